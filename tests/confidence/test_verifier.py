"""Verifier: fit on the real MiniLM encoder, metrics, batch invariance, save/load, Cascade, GSM8K slice."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from tierscope import Cascade, Router, TierAnswer
from tierscope.confidence import Verifier
from tierscope.confidence.verifier import HEAD_FILE, VERIFIER_FILE, auroc, cut_tail
from tierscope.exceptions import InvalidInputError, ModelLoadError, TierscopeFileNotFoundError

# Topic -> (query variants, answer variants): an answer is acceptable for a query of its own topic.
TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "card": (
        ["my card was declined at the shop", "why did the store refuse my debit card"],
        [
            "Your card payment was declined because the daily card limit was reached.",
            "The shop's terminal rejected the card; unlock the card in the app and retry.",
        ],
    ),
    "transfer": (
        ["my bank transfer has not arrived yet", "how long does an international transfer take"],
        [
            "Transfers abroad take up to three working days to reach the recipient's bank.",
            "Your transfer is pending; it will arrive in the other account by Friday.",
        ],
    ),
    "pin": (
        ["I forgot my PIN", "how can I change the PIN of my card"],
        [
            "You can view or reset your PIN in the security section of the app.",
            "To change your PIN, visit any ATM and choose 'PIN services'.",
        ],
    ),
    "exchange": (
        ["what exchange rate do you use for euros", "why was I charged extra for currency conversion"],
        [
            "We convert currencies at the interbank exchange rate plus a small fee on weekends.",
            "The extra charge is the currency conversion fee for paying in dollars.",
        ],
    ),
    "topup": (
        ["my top up did not go through", "how do I add money to my account"],
        [
            "Top ups by bank card arrive instantly; a failed top up is refunded in a day.",
            "Add money with a card, a bank transfer or Apple Pay from the home screen.",
        ],
    ),
    "lost": (
        ["I lost my card yesterday", "someone stole my wallet with my card"],
        [
            "Freeze the lost card in the app right away and order a replacement.",
            "We blocked the stolen card; a new one is on its way to your address.",
        ],
    ),
}


def pairs() -> tuple[list[str], list[str], np.ndarray]:
    qs, ans, ok = [], [], []
    for (t1, (tq, _)), (t2, (_, ta)) in itertools.product(TOPICS.items(), TOPICS.items()):
        for q, a in itertools.product(tq, ta):
            if t1 == t2 or (hash((t1, t2)) % 3 == 0):  # keep the classes not too skewed
                qs.append(q)
                ans.append(a)
                ok.append(t1 == t2)
    return qs, ans, np.array(ok)


@pytest.fixture(scope="module")
def fitted(default_dir: Path) -> Verifier:
    qs, ans, ok = pairs()
    return Verifier.fit(qs, ans, ok, encoder=default_dir, calibration_fraction=0.4, l2=1.0, seed=1)


def test_fit_learns_and_records_held_out_metrics(fitted: Verifier) -> None:
    m = fitted.metrics
    assert m["n_fit"] + m["n_calibration"] == len(pairs()[0])
    assert m["auroc"] > 0.8  # topic match is visible in [q, a, q*a, |q-a|]
    for key in ("ece", "brier", "ece_uncalibrated", "brier_uncalibrated", "answers_truncated_share"):
        assert 0.0 <= m[key] <= 1.0
    qs, ans, ok = pairs()
    scores = fitted.score(qs, ans)
    assert scores.dtype == np.float64 and scores.shape == (len(qs),)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert auroc(scores, ok) > 0.8


def test_scores_are_batch_invariant(fitted: Verifier) -> None:
    qs, ans, _ = pairs()
    batch = fitted.score(qs, ans)
    for i in (0, 7, len(qs) - 1):
        assert abs(fitted(qs[i], ans[i]) - batch[i]) <= 1e-9
    shuffled = np.random.default_rng(0).permutation(len(qs))
    again = fitted.score([qs[i] for i in shuffled], [ans[i] for i in shuffled])
    assert np.abs(again - batch[shuffled]).max() <= 1e-9


def test_save_load_round_trip_references_the_encoder(
    fitted: Verifier, tmp_path: Path, default_dir: Path
) -> None:
    fitted.save(tmp_path / "v")
    spec = json.loads((tmp_path / "v" / VERIFIER_FILE).read_text())
    assert (tmp_path / "v" / HEAD_FILE).is_file()
    assert spec["encoder"]["path"] == str(default_dir.resolve())
    assert set(spec["encoder"]["sha256"]) == {"model.onnx", "tokenizer.json"}
    assert spec["metrics"] == fitted.metrics
    loaded = Verifier.load(tmp_path / "v")
    qs, ans, _ = pairs()
    assert np.array_equal(loaded.score(qs, ans), fitted.score(qs, ans))


def test_load_refuses_another_encoder_and_missing_dirs(
    fitted: Verifier, tmp_path: Path, fp32_dir: Path
) -> None:
    fitted.save(tmp_path / "v")
    with pytest.raises(ModelLoadError, match="not the one this verifier was trained on"):
        Verifier.load(tmp_path / "v", encoder=fp32_dir)
    with pytest.raises(TierscopeFileNotFoundError):
        Verifier.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="verifier.json"):
        Verifier.load(tmp_path / "empty")
    for broken in ("[]", '{"format": "tierscope-verifier", "format_version": 1, "design": "pair"}', "{"):
        (tmp_path / "v" / VERIFIER_FILE).write_text(broken)
        with pytest.raises(ModelLoadError, match="cannot read the verifier"):
            Verifier.load(tmp_path / "v")


def test_plugs_into_a_two_tier_cascade(fitted: Verifier) -> None:
    good = TOPICS["pin"][1][0]
    bad = TOPICS["exchange"][1][0]
    answers = {"I forgot my PIN": good, "how can I change the PIN of my card": bad}
    # The threshold sits between the two answers' scores: a fixed 0.5 was too close to the off-topic answer's
    # score on some runs of the small fit, and what this tests is the plumbing, not the fit's margin.
    s_good = fitted("I forgot my PIN", good)
    s_bad = fitted("how can I change the PIN of my card", bad)
    assert s_good > s_bad
    cascade = Cascade(
        lambda q: TierAnswer(answers[q], cost=0.001),
        lambda q: TierAnswer("capable answer", cost=0.03),
        confidence=fitted,
        threshold=(s_good + s_bad) / 2,
    )
    ok = cascade("I forgot my PIN")
    wrong = cascade("how can I change the PIN of my card")
    assert ok.decision.confidence_raw == pytest.approx(fitted("I forgot my PIN", good))
    assert ok.decision.answered_by == "cheap"
    assert wrong.decision.answered_by == "capable" and wrong.decision.escalation_reason == "low_confidence"


def test_bad_inputs_are_refused_before_encoding(default_dir: Path, fitted: Verifier) -> None:
    qs, ans, ok = pairs()
    with pytest.raises(InvalidInputError, match="queries/answers"):
        Verifier.fit(qs, ans[:-1], ok[:-1], encoder=default_dir)
    with pytest.raises(InvalidInputError, match="acceptable"):
        Verifier.fit(qs, ans, np.ones(len(qs), dtype=bool), encoder=default_dir)
    with pytest.raises(InvalidInputError, match="acceptable"):
        Verifier.fit(qs, ans, ok[:-1], encoder=default_dir)
    with pytest.raises(InvalidInputError, match=r"queries\[0\]"):
        Verifier.fit([1, *qs[1:]], ans, ok, encoder=default_dir)  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="design"):
        Verifier.fit(qs, ans, ok, encoder=default_dir, design="cross")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="class_weight"):
        Verifier.fit(qs, ans, ok, encoder=default_dir, class_weight="auto")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"answers\[2\]"):
        Verifier.fit(qs, [*ans[:2], "  ", *ans[3:]], ok, encoder=default_dir)
    with pytest.raises(InvalidInputError, match="encoder"):
        Verifier.fit(qs, ans, ok, encoder=3)  # type: ignore[arg-type]
    for bad_l2 in (None, [], [-1.0], "0.1"):
        with pytest.raises(InvalidInputError, match="l2"):
            Verifier.fit(qs, ans, ok, encoder=default_dir, l2=bad_l2)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="calibration_fraction"):
        Verifier.fit(qs, ans, ok, encoder=default_dir, calibration_fraction=0.01)
    with pytest.raises(InvalidInputError, match="answers"):
        fitted.score(["q"], "a")
    with pytest.raises(InvalidInputError, match="query"):
        fitted(None, "a")  # type: ignore[arg-type]
    assert fitted.score([], []).shape == (0,)
    assert np.isnan(fitted.score(["q"], [""])[0])  # nothing to encode: NaN, which a Cascade escalates


def test_joint_design_and_explicit_class_weights(router: Router) -> None:
    qs, ans, ok = pairs()
    joint = Verifier.fit(qs, ans, ok, encoder=router, design="joint", class_weight={True: 1.0, False: 2.0})
    assert joint.config["design"] == "joint" and joint.config["class_weight"] == {"True": 1.0, "False": 2.0}
    assert joint.config["l2_grid"] == [0.1, 1.0, 10.0]  # the default candidates, picked by CV
    assert joint.config["l2"] in joint.config["l2_grid"]
    assert 0.0 <= joint.metrics["cv_auroc"] <= 1.0
    assert joint.score(qs[:3], ans[:3]).shape == (3,)


def test_cut_tail_keeps_the_end_on_a_word_boundary() -> None:
    text = "The first part is long. " * 20 + "#### 42"
    tail = cut_tail(text, 60)
    assert tail.endswith("#### 42") and len(tail) <= 60 and not tail.startswith(" ")
    assert cut_tail("short", 60) == "short"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_gsm8k_verifier_beats_random_on_200_held_out_problems(default_dir: Path) -> None:
    """The real data: train on GSM8K's seeded training half, score 200 held-out problems."""
    from evals.routellm import routellm

    o = routellm.load_outcomes("gsm8k")
    tr, te = routellm.split_prompts(o, seed=0)
    train, test = o.subset(tr), o.subset(te[:200])
    assert train.cheap_responses is not None and test.cheap_responses is not None
    ver = Verifier.fit(
        train.prompts, train.cheap_responses, train.cheap_ok, encoder=default_dir, l2=10.0, seed=0
    )
    scores = ver.score(test.prompts, test.cheap_responses)
    assert auroc(scores, test.cheap_ok) > 0.56
