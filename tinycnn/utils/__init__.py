"""Tools: gradient checking, summary tables, receptive fields, size formulas, checkpoint I/O and import."""
from .gradcheck import GradcheckError, check_gradients, gradcheck
from .receptive_field import receptive_field, stack_receptive_field
from .serialization import CheckpointError, load, save
from .sizes import conv_output_size, conv_params
from .summary import summary
from .torch_loader import load_torch_state_dict
