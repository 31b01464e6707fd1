//! The crate's one vector module: byte classes of 16 bytes at a time, as bit masks (bit `i` for
//! byte `i`). A head's lines are found and their names checked with these, one compare and one
//! mask per 16 bytes, where word-at-a-time code needs about ten instructions per 8 bytes.
//!
//! SSE2 is part of every x86-64 target, so the vector path is chosen when compiling, without a
//! run-time check; other targets use the scalar twins, which the tests hold the vector code to
//! for every byte value in every lane. The one loop that runs long enough to gain from 32-byte
//! vectors, the skip over a long line's plain bytes, also has an AVX2 form, chosen at run time
//! (the CPU is asked once; later asks read a cached flag).
//!
//! The crate's `unsafe` is all here, of three kinds: calling a `#[target_feature(enable =
//! "sse2")]` function, which Rust counts as unsafe from a caller without the attribute even when
//! the feature is on for the whole build (as the `cfg` below makes sure it is); calling the AVX2
//! function, only after the CPU said it has AVX2; and the unaligned loads of 16 or 32 bytes from
//! a `&[u8; 16]` or `&[u8; 32]`.

/// Bytes classified at a time.
pub(crate) const LANES: usize = 16;

/// Bit `i` set where `block[i]` is outside `0x20..=0x7e` (a control byte, DEL or non-ASCII):
/// on a plain line the first such byte is its CR or LF.
#[inline(always)]
pub(crate) fn odd_mask(block: &[u8; LANES]) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: SSE2 is enabled for the whole build (the `cfg` above).
    return unsafe { sse2::odd_mask(block) };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    return scalar::odd_mask(block);
}

/// Does any of 64 bytes lie outside `0x20..=0x7e`? One mask for four compares: how a long line
/// is skipped.
#[inline(always)]
pub(crate) fn any_odd_64(block: &[u8; 4 * LANES]) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: SSE2 is enabled for the whole build (the `cfg` above).
    return unsafe { sse2::any_odd_64(block) };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    return scalar::any_odd_64(block);
}

/// The first of `from`, `from + 64`, `from + 128`, ... where the 64 bytes of `bytes` from there
/// hold a byte outside `0x20..=0x7e`, or where fewer than 64 bytes are left: how a long line's
/// plain bytes are skipped.
#[inline]
pub(crate) fn skip_plain_64(bytes: &[u8], from: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (asked just above).
        return unsafe { avx2::skip_plain_64(bytes, from) };
    }
    skip_plain_64_by_16(bytes, from)
}

/// [`skip_plain_64`] with 16-byte vectors (or the scalar code).
fn skip_plain_64_by_16(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + 64 <= bytes.len() && !any_odd_64(bytes[i..i + 64].try_into().expect("64 bytes")) {
        i += 64;
    }
    i
}

/// Bits set where `block[i]` is `:`, and where it is not an ASCII letter, digit or `-`: a field
/// name of those bytes ends where the second mask begins, and is a name when that byte is the
/// colon.
#[inline(always)]
pub(crate) fn name_masks(block: &[u8; LANES]) -> NameMasks {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: SSE2 is enabled for the whole build (the `cfg` above).
    return unsafe { sse2::name_masks(block) };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    return scalar::name_masks(block);
}

/// What [`name_masks`] finds in 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NameMasks {
    /// Colons.
    pub colon: u32,
    /// Bytes other than ASCII letters, digits and `-`.
    pub not_alnum_dash: u32,
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_min_epu8,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_sub_epi8,
    };

    use super::{NameMasks, LANES};

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(block: &[u8; LANES]) -> __m128i {
        // SAFETY: `block` is 16 readable bytes, and an unaligned load needs no alignment.
        unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn mask(v: __m128i) -> u32 {
        _mm_movemask_epi8(v) as u32
    }

    /// Where `lo <= v <= lo + span` (unsigned), as a lane mask.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn within(v: __m128i, lo: u8, span: u8) -> __m128i {
        let off = _mm_sub_epi8(v, _mm_set1_epi8(lo as i8));
        _mm_cmpeq_epi8(_mm_min_epu8(off, _mm_set1_epi8(span as i8)), off)
    }

    /// Lanes outside `0x20..=0x7e`. Adding one takes 0x7f..=0xff to i8::MIN..=0 and
    /// 0x00..=0x1f to 1..=0x20: all the odd bytes are then below 0x21 as signed bytes, and only
    /// they.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn odd(v: __m128i) -> __m128i {
        _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(1)), _mm_set1_epi8(0x21))
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn odd_mask(block: &[u8; LANES]) -> u32 {
        mask(odd(load(block)))
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn any_odd_64(block: &[u8; 4 * LANES]) -> bool {
        let quarter = |i: usize| odd(load(block[i * LANES..][..LANES].try_into().expect("16")));
        let any = _mm_or_si128(
            _mm_or_si128(quarter(0), quarter(1)),
            _mm_or_si128(quarter(2), quarter(3)),
        );
        mask(any) != 0
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn name_masks(block: &[u8; LANES]) -> NameMasks {
        let v = load(block);
        let letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'z' - b'a');
        let digit = within(v, b'0', 9);
        let dash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8));
        let usual = _mm_or_si128(_mm_or_si128(letter, digit), dash);
        NameMasks {
            colon: mask(_mm_cmpeq_epi8(v, _mm_set1_epi8(b':' as i8))),
            not_alnum_dash: !mask(usual) & 0xffff,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::{
        __m256i, _mm256_add_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };

    /// Lanes outside `0x20..=0x7e` of the 32 bytes at `at`, as `sse2::odd` finds them.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn odd(bytes: &[u8], at: usize) -> __m256i {
        let block: &[u8; 32] = bytes[at..at + 32].try_into().expect("32 bytes");
        // SAFETY: `block` is 32 readable bytes, and an unaligned load needs no alignment.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().cast()) };
        _mm256_cmpgt_epi8(
            _mm256_set1_epi8(0x21),
            _mm256_add_epi8(v, _mm256_set1_epi8(1)),
        )
    }

    /// Does the 64-byte block at `at` hold an odd byte?
    #[inline]
    #[target_feature(enable = "avx2")]
    fn block_odd(bytes: &[u8], at: usize) -> __m256i {
        _mm256_or_si256(odd(bytes, at), odd(bytes, at + 32))
    }

    /// [`super::skip_plain_64`].
    #[target_feature(enable = "avx2")]
    pub(super) fn skip_plain_64(bytes: &[u8], from: usize) -> usize {
        let mut i = from;
        while i + 64 <= bytes.len() && _mm256_movemask_epi8(block_odd(bytes, i)) == 0 {
            i += 64;
        }
        i
    }
}

/// The same classes a byte at a time: the other targets' code, and the tests' reference.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod scalar {
    use super::{NameMasks, LANES};

    fn bits(block: &[u8; LANES], class: impl Fn(u8) -> bool) -> u32 {
        (0..LANES).fold(0, |m, i| m | u32::from(class(block[i])) << i)
    }

    pub(super) fn odd_mask(block: &[u8; LANES]) -> u32 {
        bits(block, |b| !(0x20..=0x7e).contains(&b))
    }

    pub(super) fn any_odd_64(block: &[u8; 4 * LANES]) -> bool {
        block.iter().any(|&b| !(0x20..=0x7e).contains(&b))
    }

    pub(super) fn name_masks(block: &[u8; LANES]) -> NameMasks {
        NameMasks {
            colon: bits(block, |b| b == b':'),
            not_alnum_dash: bits(block, |b| !(b.is_ascii_alphanumeric() || b == b'-')),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_in_every_lane_is_classed_as_the_scalar_code_classes_it() {
        for b in 0..=255u8 {
            for lane in 0..LANES {
                // The other lanes hold a letter, a colon or a control byte in turn.
                for filler in [b'a', b':', 0x01] {
                    let mut block = [filler; LANES];
                    block[lane] = b;
                    assert_eq!(
                        odd_mask(&block),
                        scalar::odd_mask(&block),
                        "{b:#04x} {lane}"
                    );
                    assert_eq!(
                        name_masks(&block),
                        scalar::name_masks(&block),
                        "{b:#04x} in lane {lane}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_long_block_is_odd_when_any_byte_is() {
        for b in 0..=255u8 {
            for at in [0, 15, 16, 33, 63] {
                let mut block = [b'a'; 4 * LANES];
                block[at] = b;
                assert_eq!(
                    any_odd_64(&block),
                    scalar::any_odd_64(&block),
                    "{b:#04x} at {at}"
                );
            }
        }
        assert!(!any_odd_64(&[b' '; 4 * LANES]));
    }

    #[test]
    fn a_long_line_is_skipped_to_the_block_of_its_first_odd_byte() {
        // The 16-byte code, the AVX2 code and the dispatch held to a byte-at-a-time reference,
        // for an odd byte at every place of a 400-byte line, skipped from several starts.
        let avx2 = cfg!(target_arch = "x86_64") && std::is_x86_feature_detected!("avx2");
        let plain = |block: &[u8]| block.iter().all(|b| (0x20..=0x7e).contains(b));
        let mut compared = 0;
        for b in [b'\r', b'\n', 0x00, 0x1f, 0x7f, 0x80, 0xff] {
            for at in 0..400 {
                let mut line = vec![b'a'; 400];
                line[at] = b;
                for from in [0, 1, 31, 64, 127, 200] {
                    let mut want = from;
                    while want + 64 <= line.len() && plain(&line[want..want + 64]) {
                        want += 64;
                    }
                    let by_16 = skip_plain_64_by_16(&line, from);
                    assert_eq!(by_16, want, "by 16: {b:#04x} at {at} from {from}");
                    assert_eq!(
                        skip_plain_64(&line, from),
                        want,
                        "{b:#04x} at {at} from {from}"
                    );
                    #[cfg(target_arch = "x86_64")]
                    if avx2 {
                        // SAFETY: the CPU has AVX2 (asked above).
                        let got = unsafe { avx2::skip_plain_64(&line, from) };
                        assert_eq!(got, want, "avx2: {b:#04x} at {at} from {from}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(!avx2 || compared > 0);
        assert_eq!(skip_plain_64(&[b' '; 300], 10), 266);
    }

    #[test]
    fn the_scalar_classes_are_the_rfc_ones() {
        let mut block = *b"Content-Type: a\r";
        assert_eq!(scalar::odd_mask(&block), 1 << 15);
        let masks = scalar::name_masks(&block);
        assert_eq!(masks.colon, 1 << 12);
        assert_eq!(masks.not_alnum_dash.trailing_zeros(), 12);
        block[3] = 0x7f;
        assert_eq!(scalar::odd_mask(&block), 1 << 3 | 1 << 15);
    }
}
