//! Length-bucketed batching: sort by token count, then cut batches under a padded-token budget,
//! so padding waste stays small and one long query does not inflate a whole batch.

/// Group item indices into batches. Items are taken longest first; a batch grows while
/// `items × longest_item ≤ token_budget` and `items ≤ max_batch` (a single over-long item still
/// forms its own batch). Every index appears exactly once.
pub fn plan_batches(lengths: &[usize], token_budget: usize, max_batch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Longest first; ties keep input order so plans are deterministic.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0;
    for index in order {
        let len = lengths[index].max(1);
        let would_be_longest = longest.max(len);
        if !current.is_empty()
            && ((current.len() + 1) * would_be_longest > token_budget || current.len() >= max_batch)
        {
            batches.push(std::mem::take(&mut current));
            longest = 0;
        }
        longest = longest.max(len);
        current.push(index);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Padded tokens divided by real tokens for a plan (1.0 = no padding at all).
pub fn padding_overhead(lengths: &[usize], batches: &[Vec<usize>]) -> f64 {
    let real: usize = lengths.iter().sum();
    let padded: usize =
        batches.iter().map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap_or(0)).sum();
    if real == 0 {
        1.0
    } else {
        padded as f64 / real as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_item_lands_in_exactly_one_batch_within_budget(
            lengths in proptest::collection::vec(1usize..300, 0..400),
            budget in 64usize..8192,
            max_batch in 1usize..64,
        ) {
            let batches = plan_batches(&lengths, budget, max_batch);
            let mut seen = vec![0u32; lengths.len()];
            for batch in &batches {
                prop_assert!(!batch.is_empty());
                prop_assert!(batch.len() <= max_batch);
                let longest = batch.iter().map(|&i| lengths[i]).max().unwrap();
                prop_assert!(batch.len() == 1 || batch.len() * longest <= budget);
                for &i in batch { seen[i] += 1; }
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
        }
    }

    #[test]
    fn sorting_keeps_padding_low_on_mixed_lengths() {
        let lengths: Vec<usize> = (0..1000).map(|i| 5 + (i * 37 % 60)).collect();
        let batches = plan_batches(&lengths, 32 * 64, 32);
        assert!(padding_overhead(&lengths, &batches) < 1.05);
        // Unsorted fixed-size batches of the same data pad far more.
        let naive: Vec<Vec<usize>> = (0..1000).collect::<Vec<_>>().chunks(32).map(|c| c.to_vec()).collect();
        assert!(padding_overhead(&lengths, &naive) > 1.5);
    }
}
