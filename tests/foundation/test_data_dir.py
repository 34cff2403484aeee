"""The data dir holds the audit trail (every call's input and output) and the cached outputs,
files DuckDB and SQLite create readable by all: the dir itself is this user's only."""

import stat

from studio.paths import _private, data_home
from studio.security.preflight import check_home_writable


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_is_made_and_kept_readable_by_its_user_only(tmp_path, monkeypatch):
    fresh = tmp_path / "new" / "iom"
    monkeypatch.setenv("IOM_HOME", str(fresh))
    assert data_home() == fresh and mode(fresh) == 0o700

    older = tmp_path / "made-before"  # a dir of ours others could read (an earlier version made it so)
    older.mkdir(mode=0o755)
    older.chmod(0o755)
    monkeypatch.setenv("IOM_HOME", str(older))
    assert data_home() == older and mode(older) == 0o700
    _private.discard(fresh)
    _private.discard(older)

    served = tmp_path / "served"  # the web app checks (and makes) it before it serves
    check_home_writable(served)
    assert mode(served) == 0o700
