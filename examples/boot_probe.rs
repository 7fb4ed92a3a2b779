use std::time::Instant;
use tierscope::stats::intervals::{bootstrap_replicates, BootstrapOptions};
use tierscope::stats::rng::Xoshiro256;
fn cpu_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}
fn main() {
    let mut rng = Xoshiro256::new(1, 0);
    let y: Vec<f64> = (0..1_000_000).map(|_| rng.uniform()).collect();
    for th in [1, 1, 2] {
        let (t, c) = (Instant::now(), cpu_ticks());
        let r = bootstrap_replicates(
            &y,
            None,
            BootstrapOptions { replicates: 300, seed: 1, threads: th, level: 0.95 },
        )
        .unwrap();
        println!(
            "threads {th}: wall {:?}/rep, cpu {} ms/rep ({})",
            t.elapsed() / 300,
            (cpu_ticks() - c) * 10 / 300,
            r[0]
        );
    }
}
