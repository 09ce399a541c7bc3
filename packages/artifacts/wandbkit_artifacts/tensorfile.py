"""Writing tensors in the safetensors format, digested while written.

The layout is the documented safetensors one (8-byte little-endian header length, a JSON
header, then the raw little-endian bytes of each tensor, back to back), so the files load with
``safetensors.torch.load_file``. Writing it ourselves lets each tensor go straight from its
(snapshot) buffer to the file through :class:`~wandbkit_artifacts.digest.HashingWriter`, with no
serialised copy of the whole state in memory and the digest computed during the write.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from wandbkit_artifacts.digest import HashingWriter

if TYPE_CHECKING:
    import torch

_DTYPES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
    "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8",
    "bool": "BOOL", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
    "uint16": "U16", "uint32": "U32", "uint64": "U64", "complex64": "C64",
}


def dtype_code(dtype: torch.dtype) -> str:
    """The safetensors code of a torch dtype (``torch.float32`` -> ``"F32"``)."""
    name = str(dtype).removeprefix("torch.")
    try:
        return _DTYPES[name]
    except KeyError:
        raise ValueError(f"dtype {dtype} cannot be stored in safetensors") from None


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str],
                  algorithm: str, fsync: bool = True) -> tuple[str, int]:
    """Write ``tensors`` (contiguous CPU tensors) as a safetensors file (fsynced unless told not).

    Returns ``(hex digest, size in bytes)``.
    """
    header: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, t in tensors.items():
        nbytes = t.numel() * t.element_size()
        header[name] = {"dtype": dtype_code(t.dtype), "shape": list(t.shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data section starts 8-byte aligned
    with HashingWriter(path, algorithm) as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        for t in tensors.values():
            if t.numel():
                out.write(t.reshape(-1).view(torch_uint8()).numpy())
        return out.close(fsync), out.size


def torch_uint8() -> torch.dtype:
    """``torch.uint8``, imported lazily so this module loads without torch."""
    import torch

    return torch.uint8
