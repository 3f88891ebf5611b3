//! Compile-pass and compile-fail cases for `#[derive(Repository)]`: every supported shape
//! compiles, and every rule the derive (or the typed API) enforces fails with its message.

#[test]
fn derive_repository() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
