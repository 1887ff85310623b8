"""The computational graph that autograd recorded, drawn with Graphviz.

::

    from tinycnn.utils.graph import Graph, make_dot, trace_modules, training_step_graph

    loss = F.cross_entropy(model(x), y)
    g = Graph(loss, model)          # before backward: the drawing then shows every gradient's norm
    loss.backward()
    g.save("step.svg")              # or .png, .pdf, .dot; a notebook displays ``g`` inline

    with trace_modules(model) as trace:      # note which module ran each op
        loss = F.cross_entropy(model(x), y)
    Graph(loss, trace=trace).save("resnet.svg", collapse=True)   # one node per child module

    g = training_step_graph(model, x, y)     # the same in one call, backward included
    make_dot(loss, params=dict(model.named_parameters()))        # torchviz's call: a graphviz.Digraph

``capture.py`` takes the snapshot (ops, tensors, module calls); ``dot.py`` draws and renders it.
"""
from .capture import (FunctionNode, Graph, ModuleCall, ModuleTrace, TensorNode, trace_modules,
                      training_step_graph)
from .dot import DotNotFoundError, output_format, render


def make_dot(var, params: dict | None = None, show_attrs: bool = True, show_grads: bool = True,
             model=None, trace=None, collapse: bool | int = False):
    """torchviz's ``make_dot``: the graph behind ``var`` as a ``graphviz.Digraph`` (``.render``, ``.source``).

    ``params`` names tensors (``dict(model.named_parameters())``); the other options are ``Graph``'s and
    ``Graph.to_dot``'s. Called after ``backward(retain_graph=True)`` it shows the leaves' gradients.
    """
    return Graph(var, model=model, params=params, trace=trace).to_dot(
        collapse=collapse, show_attrs=show_attrs, show_grads=show_grads)
