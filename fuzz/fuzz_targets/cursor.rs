//! Arbitrary text as a pagination cursor: decoding returns (the values, or `InvalidCursor`),
//! never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kysera::__fuzz::cursor(text);
    }
});
