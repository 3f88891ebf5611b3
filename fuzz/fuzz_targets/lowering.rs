//! Arbitrary bytes as a condition tree (leaves, AND, OR, NOT, IS NOT TRUE, hostile names),
//! normalized and lowered for every dialect: an error or SQL, never a panic or a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kysera::__fuzz::lowering(data);
});
