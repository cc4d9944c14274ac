// The migrations are embedded at compile time (`sqlx::migrate!`): a new or changed file in
// migrations/ must rebuild this crate, which cargo would not know on its own.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
