import numpy as np
import pytest

from bayespatial.models import arviz_io


@pytest.fixture
def idata():
    rng = np.random.default_rng(0)
    return arviz_io.to_idata(
        {"rho": rng.normal(size=(2, 50)), "beta": rng.normal(size=(2, 50, 3))},
        dims={"beta": ["term"]},
        coords={"term": ["Intercept", "x1", "I(x1 ** 2)"]},
        attrs={"model": "sar", "fe": "twoway", "seed": 3, "exact": True, "bounds": (-1.2, 1.0)},
        observed_data={"y": rng.normal(size=20)},
    )


def test_round_trip_is_equal(idata, tmp_path):
    path = arviz_io.write_netcdf(idata, tmp_path / "fits" / "sar.nc")
    back = arviz_io.read_netcdf(path)
    np.testing.assert_array_equal(back.posterior["beta"].values, idata.posterior["beta"].values)
    assert list(back.posterior["term"].values) == ["Intercept", "x1", "I(x1 ** 2)"]
    assert back.posterior.attrs["model"] == "sar"
    assert back.posterior.attrs["seed"] == 3
    assert back.posterior.attrs["bounds"] == "(-1.2, 1.0)"
    np.testing.assert_array_equal(back.observed_data["y"].values, idata.observed_data["y"].values)
    assert [p.name for p in path.parent.iterdir()] == ["sar.nc"]  # no temporary left


def test_failed_write_keeps_previous_file(idata, tmp_path, monkeypatch):
    path = arviz_io.write_netcdf(idata, tmp_path / "sar.nc")
    before = path.read_bytes()

    def boom(self, filename, *args, **kwargs):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(type(idata), "to_netcdf", boom)
    with pytest.raises(OSError, match="disk full"):
        arviz_io.write_netcdf(idata, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sar.nc"]


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved fit"):
        arviz_io.read_netcdf(tmp_path / "nope.nc")
