//! Small dense linear algebra for the head and the tail statistics (row-major `Vec<f64>`).

/// Cholesky factor `L` (lower triangular, row-major `n × n`) of a symmetric positive-definite
/// matrix. Returns `None` if the matrix is not positive definite.
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Inverse of a lower-triangular matrix (row-major `n × n`), itself lower triangular.
pub fn invert_lower(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    for col in 0..n {
        // Forward substitution for column `col` of the identity.
        for i in col..n {
            let mut sum = if i == col { 1.0 } else { 0.0 };
            for k in col..i {
                sum -= l[i * n + k] * inv[k * n + col];
            }
            inv[i * n + col] = sum / l[i * n + i];
        }
    }
    inv
}

/// `y = M x` for a row-major `rows × cols` matrix.
pub fn matvec(m: &[f32], rows: usize, cols: usize, x: &[f32], y: &mut [f32]) {
    for (r, out) in y.iter_mut().enumerate().take(rows) {
        let row = &m[r * cols..(r + 1) * cols];
        *out = dot(row, x);
    }
}

/// `y = L x` for a row-major lower-triangular `n × n` matrix (half the work of [`matvec`]).
pub fn lower_triangular_matvec(l: &[f32], n: usize, x: &[f32], y: &mut [f32]) {
    for (r, out) in y.iter_mut().enumerate().take(n) {
        *out = dot(&l[r * n..r * n + r + 1], &x[..r + 1]);
    }
}

/// Dot product with eight accumulators (lets the compiler vectorise).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for j in 0..8 {
            acc[j] += a[c * 8 + j] * b[c * 8 + j];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        sum += a[i] * b[i];
    }
    sum
}

/// Numerically stable softmax of `logits / temperature`, in f64.
pub fn softmax_scaled(logits: &[f64], temperature: f64, out: &mut [f64]) {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for (o, &z) in out.iter_mut().zip(logits) {
        *o = ((z - max) / temperature).exp();
        total += *o;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs_and_inverse_is_inverse() {
        let a = [4.0, 2.0, 0.4, 2.0, 3.0, 0.5, 0.4, 0.5, 2.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        let inv = invert_lower(&l, 3);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| inv[i * 3 + k] * l[k * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn softmax_is_a_distribution_and_temperature_flattens() {
        let mut sharp = [0.0; 3];
        let mut flat = [0.0; 3];
        softmax_scaled(&[1000.0, 999.0, -5.0], 1.0, &mut sharp);
        softmax_scaled(&[1000.0, 999.0, -5.0], 10.0, &mut flat);
        assert!((sharp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(flat[0] < sharp[0] && flat[0] > flat[1]);
    }

    #[test]
    fn triangular_matvec_matches_the_full_product() {
        let n = 5;
        let l: Vec<f32> =
            (0..n * n).map(|i| if i % n <= i / n { (i as f32 * 0.3).sin() } else { 0.0 }).collect();
        let x: Vec<f32> = (0..n).map(|i| i as f32 - 1.5).collect();
        let (mut full, mut tri) = (vec![0.0; n], vec![0.0; n]);
        matvec(&l, n, n, &x, &mut full);
        lower_triangular_matvec(&l, n, &x, &mut tri);
        for (a, b) in full.iter().zip(&tri) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
    }
}
