"""Layer modules, one file per family; ``tinycnn.nn`` re-exports them under PyTorch's names."""
