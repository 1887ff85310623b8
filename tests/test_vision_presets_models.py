"""tinycnn.vision.presets (each dataset's defaults and standard pipelines, folder splits) and
tinycnn.vision.models (the zoo with torchvision's builder arguments and weights)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from data_files import serve, write_cifar_python, write_image_folder
from PIL import Image

import tinycnn
from tinycnn.utils.data import DataLoader, Subset
from tinycnn.vision import datasets, models, presets, transforms as T


# ---- presets -------------------------------------------------------------------------------------------------
def test_every_dataset_has_consistent_defaults():
    for name, info in presets.DATASETS.items():
        assert presets.dataset_info(name) is info and info.channels in (1, 3)
        assert len(info.mean) == len(info.std) == info.channels and info.augment
        assert info.classes is None or len(info.classes) == info.num_classes
        for augment in (False, True):
            tf = presets.train_transform(name, augment=augment)
            assert T.rebuild(T.describe(tf)).__class__ is T.Compose
        assert T.describe(presets.eval_transform(name, input_size=64, channels=1))
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        presets.dataset_info("imagenet")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_grey_statistics_are_those_of_the_training_pixels(name):
    info = presets.dataset_info(name)
    cls = getattr(datasets, info.dataset)
    if name == "fashion-mnist" and not (cls.system_dir / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    pixels = cls(train=True).data.numpy()
    hist = np.bincount(pixels.ravel(), minlength=256)
    levels = np.arange(256) / 255.0
    mean = (hist * levels).sum() / hist.sum()
    std = np.sqrt((hist * (levels - mean) ** 2).sum() / hist.sum())
    assert mean == pytest.approx(info.mean[0], abs=1e-4) and std == pytest.approx(info.std[0], abs=1e-4)


def test_mnist_pipelines_keep_the_batched_path_and_adapt_channels_and_size():
    ds = datasets.MNIST(train=False, transform=presets.eval_transform("mnist", input_size=32, channels=3))
    assert T.apply_batched(ds.transform, ds.data.numpy()[:4]) is not None
    images, labels = ds.get_batch(np.arange(4))
    assert images.shape == (4, 3, 32, 32) and np.allclose(images.numpy()[:, 0], images.numpy()[:, 2])
    augmented = datasets.MNIST(train=False, transform=presets.train_transform("mnist", augment=True))
    assert T.apply_batched(augmented.transform, augmented.data.numpy()[:4]) is not None
    # a colour photo given to a model trained on grey digits is converted to grey first
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 40, 3), dtype=np.uint8))
    assert presets.eval_transform("mnist", input_size=28)(photo).shape == (1, 50, 40)


def test_load_dataset_cifar_and_its_transforms(tmp_path, monkeypatch):
    info = write_cifar_python(tmp_path)
    md5 = info["md5"]
    monkeypatch.setattr(datasets.CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]]
                                                         for i in range(1, 6)])
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(datasets.CIFAR10, "meta", dict(datasets.CIFAR10.meta, md5=md5["batches.meta"]))
    monkeypatch.setattr(datasets.CIFAR10, "sizes", {True: 20, False: 3})
    train = presets.load_dataset("cifar10", tmp_path, train=True,
                                 transform=presets.train_transform("cifar10", augment=True))
    images, labels = next(iter(DataLoader(train, batch_size=8, shuffle=True, seed=0)))
    assert images.shape == (8, 3, 32, 32) and labels.dtype == np.int64
    assert list(train.classes) == list(presets.dataset_info("cifar10").classes)


def test_folder_splits_with_and_without_train_val(tmp_path):
    write_image_folder(tmp_path / "split" / "train", classes=("a", "b"), per_class=2)
    write_image_folder(tmp_path / "split" / "val", classes=("a", "b"), per_class=1)
    train, val = presets.folder_splits(tmp_path / "split", T.ToTensor(), T.ToTensor())
    assert (len(train), len(val)) == (4, 2) and train.classes == val.classes == ["a", "b"]
    write_image_folder(tmp_path / "flat", classes=("a", "b", "c"), per_class=5)
    eval_tf = presets.eval_transform("folder", input_size=16)
    train, val = presets.folder_splits(tmp_path / "flat", presets.train_transform("folder", 16, augment=True),
                                       eval_tf, val_fraction=0.2, seed=1)
    assert isinstance(train, Subset) and (len(train), len(val)) == (12, 3) and train.classes == ["a", "b", "c"]
    assert sorted(val.dataset.targets[i] for i in val.indices) == [0, 1, 2]   # every class on both sides
    assert not set(train.indices) & set(val.indices)
    assert val[0][0].shape == (3, 16, 16) and val.dataset.transform is eval_tf
    again = presets.folder_splits(tmp_path / "flat", None, None, val_fraction=0.2, seed=1)
    assert again[1].indices == val.indices
    assert len(presets.load_dataset("folder", tmp_path / "flat", train=False)) == 3
    write_image_folder(tmp_path / "odd" / "train", classes=("a",), per_class=1)
    write_image_folder(tmp_path / "odd" / "val", classes=("b",), per_class=1)
    with pytest.raises(ValueError, match="different class folders"):
        presets.folder_splits(tmp_path / "odd")


# ---- models ----------------------------------------------------------------------------------------------------
def test_builders_take_torchvision_arguments():
    assert set(models.list_models()) >= {"alexnet", "resnet18", "vgg16", "mobilenet_v2", "efficientnet_b0"}
    model = models.resnet18(weights=None, num_classes=10)
    assert model.fc.out_features == 10
    assert models.get_model("resnet18", num_classes=3).fc.out_features == 3
    assert models.get_model_weights("resnet50").DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    assert models.get_weight("ResNet18_Weights.IMAGENET1K_V1").url.endswith("resnet18-f37072fd.pth")
    with pytest.raises(ValueError, match="expected value 1000 with weights IMAGENET1K_V1 but got 10"):
        models.resnet18(weights="DEFAULT", num_classes=10)
    with pytest.raises(ValueError, match="weights='IMAGENET9K' is neither one of"):
        models.resnet18(weights="IMAGENET9K")
    with pytest.raises(ValueError, match="belong to another model"):
        models.resnet18(weights=models.ResNet34_Weights.DEFAULT)
    with pytest.raises(ValueError, match="unknown model 'resnet7'"):
        models.get_model("resnet7")


def test_weights_transforms_match_torchvision(torchvision):
    ours = models.ResNet50_Weights.IMAGENET1K_V2.transforms()
    theirs = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.transforms()
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 260, 3), dtype=np.uint8))
    np.testing.assert_allclose(ours(img).numpy(), theirs(img).numpy(), atol=1e-5)
    for name in models.list_models():
        assert models.get_model_weights(name).DEFAULT.url == \
            torchvision.models.get_model_weights(name).DEFAULT.url


def test_weights_from_a_file(tmp_path, torch, torchvision):
    theirs = torchvision.models.resnet18(num_classes=7)
    torch.save(theirs.state_dict(), tmp_path / "r18.pth")
    ours = models.resnet18(weights=str(tmp_path / "r18.pth"), num_classes=7)
    np.testing.assert_array_equal(ours.fc.weight.numpy(), theirs.fc.weight.detach().numpy())
    tinycnn.save(ours.state_dict(), tmp_path / "r18.npz")
    again = models.resnet18(weights=tmp_path / "r18.npz", num_classes=7)
    np.testing.assert_array_equal(again.conv1.weight.numpy(), ours.conv1.weight.numpy())


def test_named_weights_download_once_and_check_the_hash(tmp_path, monkeypatch):
    state = {"features.0.weight": np.arange(12.0).reshape(3, 4), "features.0.bias": np.ones(3)}
    payload_dir = tmp_path / "srv"
    payload_dir.mkdir()
    tinycnn.save(state, tmp_path / "w.npz")
    # served under a name that carries the first digits of its SHA-256, as torchvision's files do (read back
    # with tinycnn.load in place of the .pth reader, so the test needs no torch)
    raw = (tmp_path / "w.npz").read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    good_name, bad_name = f"alex-{digest[:8]}.pth", "alex-00000000.pth"
    (payload_dir / good_name).write_bytes(raw)
    (payload_dir / bad_name).write_bytes(raw)
    monkeypatch.setattr(models, "load_torch_state_dict", lambda path: tinycnn.load(path, as_tensors=False))
    with serve(payload_dir) as url:
        base = url + "/"
        fetched = models.Weights(base + good_name).get_state_dict(progress=False, model_dir=tmp_path / "hub")
        assert set(fetched) == set(state) and (tmp_path / "hub" / good_name).is_file()
        np.testing.assert_array_equal(fetched["features.0.weight"], state["features.0.weight"])
        with pytest.raises(datasets.DownloadError, match="does not start with 00000000"):
            models.Weights(base + bad_name).get_state_dict(progress=False, model_dir=tmp_path / "hub")
        assert not (tmp_path / "hub" / bad_name).exists()


def test_pretrained_googlenet_drops_its_auxiliary_heads_as_torchvision(monkeypatch):
    tinycnn.manual_seed(0)
    trained = tinycnn.models.googlenet(num_classes=1000, aux_logits=True, init_weights=False)
    monkeypatch.setattr(models.Weights, "get_state_dict", lambda self, progress=True, model_dir=None:
                        trained.state_dict())
    model = models.googlenet(weights="DEFAULT")
    assert model.transform_input and not model.aux_logits and model.aux1 is None and model.aux2 is None
    assert not any(k.startswith("aux") for k in model.state_dict())
    kept = models.googlenet(weights=models.GoogLeNet_Weights.IMAGENET1K_V1, aux_logits=True)
    assert kept.aux1 is not None
    np.testing.assert_array_equal(model.fc.weight.numpy(), trained.fc.weight.numpy())
