"""Tools for looking inside models: summary tables, receptive fields, size formulas, checkpoint import."""
# --- part B: looking inside (helper) ---
from .receptive_field import receptive_field, stack_receptive_field  # noqa: F401
from .sizes import conv_output_size, conv_params  # noqa: F401
from .summary import summary  # noqa: F401
from .torch_loader import load_torch_state_dict  # noqa: F401
# --- end part B ---
# --- lead ---
from .gradcheck import GradcheckError, check_gradients, gradcheck  # noqa: F401
from .serialization import CheckpointError, load, save  # noqa: F401
# --- end lead ---
