//! Truncation strategies (`head`, `tail`, `head+tail`) of the encoder, on the real default
//! router's tokenizer and model. Needs TIERSCOPE_TEST_ROUTER and TIERSCOPE_ORT_DYLIB (as
//! `router_integration.rs`); without them outside CI the tests print why and return.

use std::path::PathBuf;

use tierscope::router::config::Truncation;
use tierscope::router::{BatchConfig, Encoder, RouterConfig, ThreadConfig};

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

fn encoder(dir: &std::path::Path, truncation: Truncation, max_length: usize) -> Encoder {
    tierscope::runtime::init(&[]).expect("TIERSCOPE_ORT_DYLIB must point at libonnxruntime");
    let mut spec = RouterConfig::from_file(&dir.join("router.json")).unwrap().model;
    spec.truncation = truncation;
    spec.max_length = max_length;
    let threads = ThreadConfig::resolve(Some(1), Some(1)).unwrap();
    Encoder::load(dir, &spec, threads, BatchConfig::default()).unwrap()
}

#[test]
fn strategies_keep_the_head_the_tail_or_both() {
    let Some(dir) = router_dir() else { return };
    let long: String = (0..120).map(|i| format!("w{i} ")).collect::<String>() + "final question here";
    let (head, tail, both) = (
        encoder(&dir, Truncation::Head, 64),
        encoder(&dir, Truncation::Tail, 64),
        encoder(&dir, Truncation::HeadTail, 64),
    );
    let full = encoder(&dir, Truncation::Tail, 512).tokenize(&long).unwrap();
    assert!(!full.truncated, "the reference holds the whole text");
    let full = full.ids();
    let (h, t, b) =
        (head.tokenize(&long).unwrap(), tail.tokenize(&long).unwrap(), both.tokenize(&long).unwrap());
    for x in [&h, &t, &b] {
        assert_eq!(x.len(), 64);
        assert!(x.truncated);
        assert_eq!((x.ids()[0], x.ids()[63]), (full[0], full[full.len() - 1]), "[CLS] … [SEP]");
    }
    assert_eq!(h.ids()[..63], full[..63]);
    assert_eq!(t.ids()[1..], full[full.len() - 63..]);
    let k = 62 / 4; // head+tail's default head: a quarter of the content budget
    assert_eq!(b.ids()[..1 + k], full[..1 + k]);
    assert_eq!(b.ids()[1 + k..], full[full.len() - (63 - k)..]);
    // A text that fits is encoded the same by every strategy, and not flagged.
    for enc in [&tail, &both] {
        let short = enc.tokenize("where is my card").unwrap();
        assert_eq!(short.ids(), head.tokenize("where is my card").unwrap().ids());
        assert!(!short.truncated);
    }
}

#[test]
fn max_length_beyond_the_models_positions_is_refused() {
    let Some(dir) = router_dir() else { return };
    tierscope::runtime::init(&[]).expect("TIERSCOPE_ORT_DYLIB must point at libonnxruntime");
    let mut spec = RouterConfig::from_file(&dir.join("router.json")).unwrap().model;
    spec.max_length = 513;
    let threads = ThreadConfig::resolve(Some(1), Some(1)).unwrap();
    let err = Encoder::load(&dir, &spec, threads, BatchConfig::default()).err().unwrap().to_string();
    assert!(err.contains("at most the model's 512 positions"), "{err}");
}
