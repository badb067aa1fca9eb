"""Only plain data crosses between grader and worker."""
import numpy as np
import pytest
import torch

from autograder.runtime import codec


def roundtrip(x):
    return codec.from_plain(codec.loads(codec.dumps(codec.to_plain(x))))


def test_arrays_tensors_and_scalars_roundtrip():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = roundtrip((a, torch.ones(2, requires_grad=True), np.float64(1.5), 3, [np.nan, np.inf], {"k": None}))
    assert isinstance(out, tuple)
    np.testing.assert_array_equal(out[0], a)
    assert out[0].dtype == np.float32
    assert isinstance(out[1], codec.TensorData) and out[1].requires_grad and out[1].shape == (2,)
    assert out[2] == 1.5 and out[3] == 3
    assert np.isnan(out[4][0]) and out[4][1] == np.inf
    assert out[5] == {"k": None}


def test_zero_dim_tensor_keeps_its_shape():
    assert roundtrip(torch.tensor(2.0)).shape == ()


def test_modules_become_state_dicts():
    out = roundtrip(torch.nn.Linear(2, 1, bias=False))
    assert isinstance(out, codec.ModuleData) and out.cls.endswith("Linear") and list(out.state) == ["weight"]


def test_rigged_objects_cross_as_plain_values_or_opaque():
    class Yes(float):
        def __eq__(self, other):
            return True

    class YesArray(np.ndarray):
        def __eq__(self, other):
            return True

    class Anything:
        def __eq__(self, other):
            return True

    assert type(roundtrip(np.arange(3).view(YesArray))) is np.ndarray
    assert isinstance(roundtrip(Anything()), codec.Opaque)
    assert isinstance(roundtrip(Yes(1.0)), codec.Opaque)


def test_object_arrays_and_unknown_tags_are_refused():
    with pytest.raises(codec.CodecError):
        codec.to_plain(np.array([object()]))
    with pytest.raises(codec.CodecError):
        codec.from_plain({"__pickle__": "x"})
    bad = codec.to_plain(np.zeros(3))
    bad["__ndarray__"]["dtype"] = "object"
    with pytest.raises(codec.CodecError):
        codec.from_plain(bad)
