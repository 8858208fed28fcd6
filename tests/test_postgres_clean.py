"""`make clean` deletes PostgreSQL's data folder, which lives outside the lab's state folder
(in the `postgres` user's home, since that user cannot enter the state folder) and so
outlived `rm -rf .brokers`. Run against a state folder of the test's own: the running lab's
cluster is never touched."""

import os
import re
from pathlib import Path

import pytest

from lab.brokers import services
from lab.brokers.services import postgres

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"


@pytest.fixture
def running_lab() -> Path:
    """The data folder of the lab's own state folder (a cluster there, if it was ever started)."""
    return postgres.data_dir()


@pytest.fixture
def own_cluster_folder(monkeypatch, tmp_path, running_lab) -> Path:
    """A data folder as `_initdb` lays it out, for a state folder nobody runs anything from."""
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    data = postgres.data_dir()
    assert data != running_lab and data.parent.parent == running_lab.parent.parent
    user = postgres._os_user()
    for folder in (data.parent.parent, data.parent, data):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(folder, user.pw_uid, user.pw_gid)
    (data / "PG_VERSION").write_text("15\n")
    return data


def test_down_with_clean_deletes_the_data_folder_outside_the_state_folder(
    own_cluster_folder, running_lab
):
    lab_had_one = (running_lab / "PG_VERSION").is_file()
    assert services.down("postgres", clean=True) is False  # nothing of this state folder ran
    assert not own_cluster_folder.parent.exists()
    assert (running_lab / "PG_VERSION").is_file() == lab_had_one  # only its own cluster went


def test_down_without_clean_keeps_the_cluster(own_cluster_folder):
    services.down("postgres")
    assert (own_cluster_folder / "PG_VERSION").is_file()
    services.down("postgres", clean=True)


def test_other_state_folders_clusters_are_kept(own_cluster_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "another"))
    other = postgres.data_dir()
    other.mkdir(parents=True)
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "state"))
    services.down("postgres", clean=True)
    assert not own_cluster_folder.exists() and other.exists()
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "another"))
    services.down("postgres", clean=True)
    assert not other.exists()


def test_make_clean_asks_the_services_to_clean():
    recipe = re.search(r"^clean:.*?\n((?:\t.*\n)+)", MAKEFILE.read_text(), re.MULTILINE)
    assert recipe is not None
    assert "-m lab.brokers down --clean" in recipe.group(1)
    assert "rm -rf .brokers" in recipe.group(1)
