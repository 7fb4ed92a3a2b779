//! Integration tests of the pure-Rust router core on the real default router.
//!
//! `make test-rust` sets TIERSCOPE_TEST_ROUTER (the default router built by `make model`) and
//! TIERSCOPE_ORT_DYLIB (libonnxruntime from the onnxruntime wheel). Without them (a bare
//! `cargo test` outside make and outside CI) these tests print why and return.

use std::path::PathBuf;

use tierscope::router::{BatchConfig, Router, ThreadConfig};

fn router_dir() -> Option<PathBuf> {
    match std::env::var_os("TIERSCOPE_TEST_ROUTER") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var_os("CI").is_some() => panic!("TIERSCOPE_TEST_ROUTER must be set in CI"),
        None => {
            eprintln!("skipping: TIERSCOPE_TEST_ROUTER is not set (run `make test-rust`)");
            None
        }
    }
}

fn load(dir: &std::path::Path, sessions: usize) -> Router {
    tierscope::runtime::init(&[]).expect("TIERSCOPE_ORT_DYLIB must point at libonnxruntime");
    let threads = ThreadConfig::resolve(Some(sessions), Some(1)).unwrap();
    Router::load(dir, threads, BatchConfig::default()).unwrap()
}

fn texts() -> Vec<String> {
    [
        "I think my card was stolen",
        "how do I top up with apple pay?",
        "",
        "Why was I charged twice for the same coffee?",
        "What exchange rate do you use?",
        "my transfer to my sister hasn't arrived and it has been a week, what is going on",
        "🙂",
        "top up",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn batch_and_single_agree_and_order_is_kept() {
    let Some(dir) = router_dir() else { return };
    let router = load(&dir, 2);
    let texts = texts();
    let batch = router.route_batch(&texts, false).unwrap();
    let k = batch.k;
    for (i, text) in texts.iter().enumerate() {
        let single = router.route_batch(std::slice::from_ref(text), false).unwrap();
        assert_eq!(single.tier_index[0], batch.tier_index[i], "text {i}");
        for c in 0..k {
            let (a, b) = (single.probabilities[c], batch.probabilities[i * k + c]);
            assert!((a - b).abs() <= 1e-5 || (a.is_nan() && b.is_nan()), "text {i} class {c}: {a} vs {b}");
        }
        assert_eq!(single.tail_score[0].to_bits(), batch.tail_score[i].to_bits(), "text {i}");
        assert_eq!(single.reason[0], batch.reason[i], "text {i}");
    }
    // Issue 15: the empty string never reaches the model; other fallbacks are the tail threshold.
    assert_eq!((batch.tokens[2], batch.reason[2].as_deref()), (0, Some("empty_text")));
    for (i, reason) in batch.reason.iter().enumerate() {
        assert!(
            i == 2 || reason.is_none() || reason.as_deref() == Some("off_distribution"),
            "{i}: {reason:?}"
        );
    }
}

#[test]
fn long_text_is_truncated_and_flagged() {
    let Some(dir) = router_dir() else { return };
    let router = load(&dir, 1);
    let long = "please explain the fee on my statement ".repeat(2000);
    let out = router.route_batch(&[long, "hi".into()], true).unwrap();
    assert_eq!(out.truncated, vec![true, false]);
    assert_eq!(out.tokens[0] as usize, router.config().model.max_length);
    let dim = out.embedding_dim;
    let norm: f32 = out.embeddings.as_ref().unwrap()[..dim].iter().map(|v| v * v).sum();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn saved_router_reloads_identically() {
    let Some(dir) = router_dir() else { return };
    let router = load(&dir, 1);
    let out_dir = std::env::temp_dir().join(format!("tierscope-save-{}", std::process::id()));
    router.save(&out_dir).unwrap();
    let again = load(&out_dir, 1);
    let texts = texts();
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
    let (a, b) = (router.route_batch(&texts, false).unwrap(), again.route_batch(&texts, false).unwrap());
    assert_eq!(bits(a.probabilities), bits(b.probabilities));
    assert_eq!(bits(a.tail_score), bits(b.tail_score), "the tail index reloads identically");
    std::fs::remove_dir_all(&out_dir).unwrap();
}

#[test]
fn huge_texts_are_cut_before_tokenization_and_reported() {
    let Some(dir) = router_dir() else { return };
    let router = load(&dir, 1);
    let texts = vec![
        "x".repeat(10 << 20),                  // one 10 MB word: a single [UNK]
        "card ".repeat(2 << 20),               // 10 MB of words
        "🙂".repeat(3 << 20),                  // 4-byte characters: the cut stays on a boundary
        String::new(),                         // no real token
        "how do I top up my card".to_string(), // ordinary
    ];
    let out = router.route_batch(&texts, false).unwrap();
    assert_eq!(out.truncated, vec![true, true, true, false, false]);
    // Issue 15: the empty string is not "discarded content" but no content (empty_text).
    assert_eq!(out.content_discarded, vec![true, true, true, false, false]);
    assert_eq!(out.tokens[0], 3);
    assert_eq!(out.tokens[1] as usize, router.config().model.max_length);
    assert_eq!(out.reason[3].as_deref(), Some("empty_text"));
    assert!(!out.fallback[4]);
    for (i, reason) in out.reason.iter().enumerate().take(3) {
        assert!(reason.is_none() || reason.as_deref() == Some("off_distribution"), "{i}: {reason:?}");
    }
}

#[test]
fn escaping_paths_are_refused_and_saves_use_canonical_names() {
    let Some(dir) = router_dir() else { return };
    let scratch = std::env::temp_dir().join(format!("tierscope-escape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let copy = scratch.join("r");
    std::fs::create_dir_all(copy.join("sub")).unwrap();
    std::fs::copy(dir.join("model.onnx"), copy.join("sub/m.onnx")).unwrap();
    std::fs::copy(dir.join("tokenizer.json"), copy.join("sub/t.json")).unwrap();
    let has_index = dir.join("tail_index.bin").exists();
    if has_index {
        std::fs::copy(dir.join("tail_index.bin"), copy.join("tail_index.bin")).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("router.json")).unwrap()).unwrap();
    let write = |config: &serde_json::Value| {
        std::fs::write(copy.join("router.json"), serde_json::to_vec(config).unwrap()).unwrap()
    };
    tierscope::runtime::init(&[]).unwrap();
    let threads = ThreadConfig::resolve(Some(1), Some(1)).unwrap();
    for (field, value) in [("file", "../r/sub/m.onnx"), ("file", "/etc/passwd"), ("tokenizer", "/dev/zero")] {
        config["model"][field] = value.into();
        write(&config);
        let err = Router::load(&copy, threads, BatchConfig::default()).err().expect("refused").to_string();
        assert!(err.contains(&format!("model.{field}")), "{field} = {value}: {err}");
        config["model"]["file"] = "sub/m.onnx".into();
        config["model"]["tokenizer"] = "sub/t.json".into();
    }
    write(&config);
    let router = Router::load(&copy, threads, BatchConfig::default()).unwrap();
    let out = scratch.join("saved");
    router.save(&out).unwrap();
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let mut expected = vec!["model.onnx", "router.json", "tokenizer.json"];
    if has_index {
        expected.insert(2, "tail_index.bin");
    }
    assert_eq!(names, expected);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("router.json")).unwrap()).unwrap();
    assert_eq!(saved["model"]["file"], "model.onnx");
    assert_eq!(saved["model"]["tokenizer"], "tokenizer.json");
    std::fs::remove_dir_all(&scratch).unwrap();
}
