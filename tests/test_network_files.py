"""Network.load / DeepNetwork.load on damaged and foreign files: convexnn's own error naming
the file, never a numpy / zipfile / json exception, never a word about pickle, no open file
left behind; saved networks carry their training settings."""

import gc
import io
import json
import warnings
import zipfile

import numpy as np
import pytest

import convexnn as cn
from convexnn.exceptions import NetworkFileError
from convexnn.networks.deep import DeepNetwork
from convexnn.networks.two_layer import Network


@pytest.fixture
def net(rng):
    return Network(W1=rng.standard_normal((3, 2)), W2=rng.standard_normal(3),
                   b1=rng.standard_normal(3), regularize_bias=True,
                   training={"model": "relu", "loss": "squared", "beta": 0.5, "bias": "regularized",
                             "skip": False, "output_bias": False})


def _write_npz(path, header, **arrays):
    if header is not None:
        arrays["header"] = np.asarray(header if isinstance(header, str) else json.dumps(header))
    np.savez(path, **arrays)
    return path


def _good_header(**over):
    h = {"format": "convexnn.Network/1", "format_version": 2, "regularize_bias": False,
         "gated": False, "meta": {}, "training": {}}
    h.update(over)
    return h


def _arrays(m=2, d=3):
    return {"W1": np.ones((m, d)), "b1": np.zeros(m), "W2": np.ones(m), "c0": np.asarray(0.0),
            "skip": np.zeros(d)}


def damaged_files(tmp_path, net):
    """(name, path) of every kind of damage."""
    good = net.save(tmp_path / "good.npz")
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    out = {}

    def put(name, content):
        p = tmp_path / f"{name}.npz"
        p.write_bytes(content)
        out[name] = p

    put("empty", b"")
    put("truncated_half", data[: len(data) // 2])
    put("truncated_tail", data[:-10])
    put("truncated_head", data[:30])
    put("random", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    put("random_zip_magic", b"PK\x03\x04" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    put("text", b"W1 = [[1, 2], [3, 4]]\nthis is not a network\n")
    put("npy_not_npz", _npy_bytes(np.ones(3)))
    crc = bytearray(data)
    i = data.find(b"W1.npy")  # flip payload bytes of the first member after its header
    crc[i + 200: i + 208] = bytes(8 * [0x55])
    put("bad_crc", bytes(crc))
    out["headerless"] = _write_npz(tmp_path / "headerless.npz", None, **_arrays())
    out["header_not_json"] = _write_npz(tmp_path / "hj.npz", "{not json", **_arrays())
    out["header_list"] = _write_npz(tmp_path / "hl.npz", "[1, 2]", **_arrays())
    out["header_number_array"] = tmp_path / "hn.npz"
    np.savez(out["header_number_array"], header=np.ones(3), **_arrays())
    out["wrong_format"] = _write_npz(tmp_path / "wf.npz", _good_header(format="other/1"), **_arrays())
    out["future_version"] = _write_npz(tmp_path / "fv.npz", _good_header(format_version=99), **_arrays())
    h = _good_header()
    del h["regularize_bias"]
    out["missing_header_key"] = _write_npz(tmp_path / "mk.npz", h, **_arrays())
    out["wrong_header_type"] = _write_npz(tmp_path / "wt.npz", _good_header(regularize_bias="yes"), **_arrays())
    a = _arrays()
    del a["W2"]
    out["missing_array"] = _write_npz(tmp_path / "ma.npz", _good_header(), **a)
    a = _arrays()
    a["b1"] = np.zeros(5)
    out["wrong_shape"] = _write_npz(tmp_path / "ws.npz", _good_header(), **a)
    a = _arrays()
    a["W1"] = np.ones((2, 3, 1))
    out["wrong_ndim"] = _write_npz(tmp_path / "wn.npz", _good_header(), **a)
    a = _arrays()
    a["W1"] = np.array([["a", "b", "c"]] * 2)
    out["string_array"] = _write_npz(tmp_path / "sa.npz", _good_header(), **a)
    a = _arrays()
    a["W1"] = np.array([[1, None, 2]] * 2, dtype=object)
    out["object_array"] = _write_npz(tmp_path / "oa.npz", _good_header(), **a)
    a = _arrays()
    a["W2"] = np.array([np.nan, 1.0])
    out["nan"] = _write_npz(tmp_path / "nan.npz", _good_header(), **a)
    out["gated_without_gates"] = _write_npz(tmp_path / "gg.npz", _good_header(gated=True), **_arrays())
    out["extra_array"] = _write_npz(tmp_path / "ea.npz", _good_header(), extra=np.ones(2), **_arrays())
    out["deep_file"] = DeepNetwork([np.ones((2, 3)), np.ones((1, 2))]).save(tmp_path / "deep.npz")
    out["directory"] = tmp_path / "adir"
    out["directory"].mkdir()
    return out


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def no_unclosed_files():
    """Every file the loaders open is closed: an unclosed one warns when collected, and the
    warning is an error (one full collection per test; one per file took most of the time)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        yield
        gc.collect()


def _check_error(path, load):
    with pytest.raises(NetworkFileError) as info:
        load(path)
    e = info.value
    msg = str(e)
    assert isinstance(e, ValueError) and type(e) is NetworkFileError
    assert str(path) in msg  # names the file
    assert "pickle" not in msg.lower()
    assert ";" in msg  # what is wrong; what to do
    assert not isinstance(e.__cause__, zipfile.BadZipFile | json.JSONDecodeError | EOFError | KeyError)
    return msg


KINDS = ["empty", "truncated_half", "truncated_tail", "truncated_head", "random",
         "random_zip_magic", "text", "npy_not_npz", "bad_crc", "headerless", "header_not_json",
         "header_list", "header_number_array", "wrong_format", "future_version",
         "missing_header_key", "wrong_header_type", "missing_array", "wrong_shape", "wrong_ndim",
         "string_array", "object_array", "nan", "gated_without_gates", "extra_array",
         "deep_file", "directory"]


def test_every_damage_kind_raises_network_file_error(tmp_path, net):
    files = damaged_files(tmp_path, net)
    assert sorted(files) == sorted(KINDS)
    messages = {k: _check_error(files[k], Network.load) for k in KINDS}
    # the message says what is wrong
    assert "empty" in messages["empty"]
    assert "not a .npz" in messages["text"] and "text" in messages["text"]
    assert "no convexnn header" in messages["headerless"]
    assert "'W2'" in messages["missing_array"]
    assert "'regularize_bias'" in messages["missing_header_key"]
    assert "b1" in messages["wrong_shape"]
    assert all(m.count("cannot load") == 1 for m in messages.values())
    assert "Python objects" in messages["object_array"]
    assert "upgrade" in messages["future_version"]
    assert "damaged or truncated" in messages["truncated_half"]


def test_deep_network_damaged_files(tmp_path, net):
    files = damaged_files(tmp_path, net)
    for k in ["empty", "truncated_half", "random", "text", "headerless", "header_not_json",
              "object_array", "wrong_format"]:
        _check_error(files[k], DeepNetwork.load)
    # a Network file is not a DeepNetwork file
    _check_error(net.save(tmp_path / "two_layer.npz"), DeepNetwork.load)
    deep = DeepNetwork([np.ones((2, 3)), np.ones((1, 2))]).save(tmp_path / "d.npz")
    with np.load(deep) as f:
        arrays = {k: f[k] for k in f.files if k != "header"}
        header = json.loads(str(f["header"]))
    del arrays["b1"]
    _check_error(_write_npz(tmp_path / "d2.npz", header, **arrays), DeepNetwork.load)
    arrays["b1"] = np.ones(4)
    _check_error(_write_npz(tmp_path / "d3.npz", header, **arrays), DeepNetwork.load)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        Network.load(tmp_path / "nope.npz")


def test_round_trip_keeps_training_settings_and_version(tmp_path, net, rng):
    p = net.save(tmp_path / "n.npz")
    back = Network.load(p)
    assert back.training == net.training and back.regularize_bias
    X = rng.standard_normal((5, 2))
    assert np.array_equal(back.predict(X), net.predict(X))
    with np.load(p) as f:
        header = json.loads(str(f["header"]))
    assert header["format_version"] == 2 and header["training"]["beta"] == 0.5


def test_old_files_without_version_or_training_load(tmp_path):
    h = _good_header()
    del h["format_version"], h["training"]
    p = _write_npz(tmp_path / "old.npz", h, **_arrays())
    back = Network.load(p)
    assert back.training == {} and back.width == 2


def test_fit_records_training_settings(tmp_path, rng):
    X = rng.standard_normal((8, 2))
    y = X[:, 0] - X[:, 1]
    r = cn.fit(X, y, beta=0.3, loss="squared", bias="regularized", skip=True, certify=False)
    expect = {"model": "relu", "loss": "squared", "beta": 0.3, "bias": "regularized",
              "skip": True, "output_bias": False}
    assert r.network.training == expect
    back = Network.load(r.network.save(tmp_path / "fit.npz"))
    assert back.training == expect
    assert np.isclose(back.objective(X, y, beta=back.training["beta"]), r.recovered_objective)
