use std::time::Instant;
fn main() {
    let dim = 384;
    for rows in [1000usize, 5000, 20000] {
        let data: Vec<f32> = (0..rows * dim).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
        let q: Vec<f32> = (0..dim).map(|i| i as f32 / 384.0).collect();
        let reps = 20_000_000 / rows;
        let t = Instant::now();
        let mut s = 0.0;
        for _ in 0..reps {
            s += heliosdb_vector::brute_force(heliosdb_vector::Metric::InnerProduct, &data, dim, &q, 10)[0].1;
        }
        let e = t.elapsed().as_secs_f64();
        println!("rows {rows}: {:.1} ns/row, {:.2} GB/s {s}", e * 1e9 / (reps * rows) as f64, (reps * rows * dim * 4) as f64 / e / 1e9);
    }
}
