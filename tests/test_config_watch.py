"""`fakellm serve --reload` (issue 12, items 9, 10 and 11), with a real server as a subprocess: the watcher
survives every bad file and reports each once; an editor that truncates a file and writes it a moment
later causes no error and no half config; a Kubernetes ConfigMap's symlink swap is followed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
from helpers import Served
from test_hostile_configs import HOSTILE


def rules_info(server: Served) -> dict:
    return httpx.get(f"{server.url}/_fakellm/rules").json()


def ask(server: Served) -> str:
    reply = server.openai(timeout=30).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
    return reply.choices[0].message.content


def config(answer: str, rules: int = 1) -> str:
    return "rules:\n" + "".join(f"  - name: rule{i}\n    respond: {{content: {answer}}}\n" for i in range(rules))


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


BAD_FILES = {name: (content, where, message) for name, content, where, message in HOSTILE
             if name in ("600 nested flow lists", "a NUL character", "bytes that are not UTF-8",
                         "journal_size above 2^63", "billion laughs, six levels", "a recursive alias")}


def test_the_watcher_survives_every_bad_file_and_reports_each_once(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(config("one"))
    with Served("--config", str(path), "--reload", cwd=tmp_path) as server:
        time.sleep(0.3)  # let the watcher start
        for k, (name, (content, where, message)) in enumerate(BAD_FILES.items(), 1):
            path.write_bytes(content)
            assert wait_for(lambda: rules_info(server)["reload_failures"] >= k), f"{name} was not reported"
            (problem,) = rules_info(server)["last_reload_error"]
            assert message in problem["message"] and (problem["line"], problem["column"]) == where, (name, problem)
            assert ask(server) == "one"  # still the config it had
        path.unlink()
        assert wait_for(lambda: rules_info(server)["reload_failures"] == len(BAD_FILES) + 1)
        assert "config file not found" in rules_info(server)["last_reload_error"][0]["message"]
        path.write_text(config("two"))  # the watcher is still alive
        assert wait_for(lambda: ask(server) == "two")
        time.sleep(1.5)
        info = rules_info(server)
        assert info["reload_failures"] == len(BAD_FILES) + 1  # each bad file once, not once per event
        assert info["last_reload_error"] is None
    out = "".join(server.output)
    assert "Traceback" not in out
    assert out.count("is invalid, still serving the previous config") == len(BAD_FILES) + 1


def test_an_editor_that_truncates_then_writes_causes_no_error_and_no_half_config(tmp_path):
    path = tmp_path / "fakellm.yaml"
    path.write_text(config("before"))
    whole = config("after", rules=40)
    with Served("--config", str(path), "--reload", cwd=tmp_path) as server:
        time.sleep(0.3)
        reloads = rules_info(server)["reloads"]
        with path.open("w") as f:  # truncated: an empty file, which is not a valid config
            f.flush()
            time.sleep(0.4)
            f.write(whole[: len(whole) // 2].rsplit("\n  - ", 1)[0] + "\n")  # half the rules: valid YAML
            f.flush()
            time.sleep(0.02)
            f.write(whole[len(whole[: len(whole) // 2].rsplit("\n  - ", 1)[0] + "\n"):])
        assert wait_for(lambda: len(rules_info(server)["rules"]) == 40)
        time.sleep(1.5)
        info = rules_info(server)
        assert (info["reload_failures"], info["last_reload_error"]) == (0, None)
        assert info["reloads"] == reloads + 1  # the half file was never served
        assert ask(server) == "after"
    assert "invalid" not in "".join(server.output)


def configmap(root: Path, stamp: str, text: str) -> None:
    """What the kubelet does to update a mounted ConfigMap: a new timestamped directory, a `..data_tmp`
    link to it renamed over `..data` (atomically), and the old directory removed."""
    new = root / f"..{stamp}"
    new.mkdir()
    (new / "config.yaml").write_text(text)
    old = os.readlink(root / "..data") if (root / "..data").is_symlink() else None
    os.symlink(new.name, root / "..data_tmp")
    os.replace(root / "..data_tmp", root / "..data")
    if old is not None:
        shutil.rmtree(root / old)
    else:
        os.symlink("..data/config.yaml", root / "config.yaml")


def test_a_configmap_symlink_swap_is_followed(tmp_path):
    root = tmp_path / "config"
    root.mkdir()
    configmap(root, "2026_12_01_10_00_00.000000001", config("first"))
    with Served("--config", str(root / "config.yaml"), "--reload", cwd=tmp_path) as server:
        assert ask(server) == "first"
        time.sleep(0.3)
        for k, stamp in enumerate(("2026_12_01_10_05_00.000000002", "2026_12_01_10_10_00.000000003",
                                   "2026_12_01_10_15_00.000000004"), 2):
            configmap(root, stamp, config(f"update{k}"))
            assert wait_for(lambda: ask(server) == f"update{k}"), f"update {k} was not seen"
        assert rules_info(server)["reload_failures"] == 0
