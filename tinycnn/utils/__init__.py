"""Tools: gradient checking, summary tables, receptive fields, size formulas, checkpoint I/O and import,
reusing trained weights (``transfer``)."""
from .gradcheck import GradcheckError, check_gradients, gradcheck
from .receptive_field import receptive_field, stack_receptive_field
from .serialization import CheckpointError, load, save
from .sizes import conv_output_size, conv_params
from .summary import summary
from .torch_loader import load_torch_state_dict
from .transfer import (add_head, apply_transfer, freeze, freeze_norm_stats, init_from, load_pretrained, load_weights,
                       replace_head, trainable_parameters)
