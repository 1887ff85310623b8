"""Pictures of what a trained conv net responds to: Zeiler & Fergus's deconvnet projections, guided
backpropagation and class saliency maps (``docs/visualisation.md``)."""
from .deconvnet import Projections, deconvnet
from .gradients import guided_backprop, saliency
from .images import save_overview, save_png, to_display
from .layers import layer_names

__all__ = ["Projections", "deconvnet", "guided_backprop", "saliency", "save_overview", "save_png", "to_display",
           "layer_names"]
