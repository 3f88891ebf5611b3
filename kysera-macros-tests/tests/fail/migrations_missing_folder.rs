// The migrations folder must exist (relative to the crate's Cargo.toml).
fn main() {
    let _migrator = kysera::migrations!("no/such/folder");
}
