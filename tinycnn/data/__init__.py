"""The former home of tinycnn's data loading; its names now live where PyTorch and torchvision keep them."""
raise ImportError("tinycnn.data has moved: DataLoader, Dataset, Subset, TensorDataset and default_collate are in "
                  "tinycnn.utils.data (as torch.utils.data); MNIST, FashionMNIST, CIFAR10 and ImageFolder in "
                  "tinycnn.vision.datasets, and the transforms in tinycnn.vision.transforms (as torchvision's: "
                  "add transforms.ToTensor() before Normalize)")
