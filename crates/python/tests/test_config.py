"""Configuration files, the original's environment prefix, and from_config."""

import json

from conftest import outcome

import autobranch as compat
import chatroutes_autobranch as original


def test_default_config_files_are_the_same(tmp_path):
    for suffix in (".yaml", ".json"):
        theirs, ours = tmp_path / f"theirs{suffix}", tmp_path / f"ours{suffix}"
        original.create_default_config(theirs)
        compat.create_default_config(ours)
        assert ours.read_text() == theirs.read_text()
        assert compat.load_config(ours) == original.load_config(theirs)
    assert outcome(lambda: compat.create_default_config(tmp_path / "x.toml")) == outcome(
        lambda: original.create_default_config(tmp_path / "x.toml")
    )


def test_environment_overrides_use_the_original_prefix(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"beam": {"k": 3}}))
    monkeypatch.setenv("CHATROUTES_BEAM__K", "10")
    monkeypatch.setenv("CHATROUTES_BUDGET__MODE", "soft")
    monkeypatch.setenv("CHATROUTES_NOVELTY__THRESHOLD", "0.5")
    ours = compat.load_config(path)
    assert ours == original.load_config(path)
    assert ours["beam"]["k"] == 10 and ours["budget"]["mode"] == "soft" and ours["novelty"]["threshold"] == 0.5


def test_missing_and_unsupported_files(tmp_path):
    for name in ("absent.yaml", "c.ini"):
        if name == "c.ini":
            (tmp_path / name).write_text("x")
        assert outcome(lambda: compat.load_config(tmp_path / name)) == outcome(lambda: original.load_config(tmp_path / name))


def test_from_config_builds_the_same_pipeline(tmp_path):
    path = tmp_path / "c.yaml"
    compat.create_default_config(path)
    config = compat.load_config(path)
    config["embedding"] = {"type": "dummy", "dimension": 8, "seed": 1}
    config["budget"]["mode"] = "soft"
    steps = []
    for lib in (original, compat):
        s = lib.BranchSelector.from_config(json.loads(json.dumps(config)))
        parent = lib.Candidate("root", "a question")
        cands = [lib.Candidate(f"c{i}", f"answer {i % 4}", meta={"logprobs": -i / 7}) for i in range(12)]
        r = s.step(parent, cands)
        steps.append(([c.id for c in r.kept], [round(c.score, 12) for c in r.scored], r.should_continue, r.details, s.get_state()))
    assert steps[0] == steps[1]
