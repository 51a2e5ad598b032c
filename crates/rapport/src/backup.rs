//! Encrypted backups of the embedded database. `rapport backup` takes a
//! consistent snapshot (SQLite's `VACUUM INTO`, safe while the server runs)
//! and encrypts it; `rapport restore` decrypts, checks and installs it.
//!
//! The file: a 16-byte magic, a 16-byte salt, a 7-byte nonce prefix, then
//! chunks of at most 1 MiB, each `u32` length + ChaCha20-Poly1305
//! ciphertext. The key is Argon2id(passphrase, salt). Chunk nonces are the
//! prefix, a counter and a last-chunk flag (the STREAM construction), and
//! the header is every chunk's associated data: a reordered, cut, extended
//! or altered file fails to decrypt, as does a wrong passphrase.

use std::io::{Read, Write};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::auth::secret::random_bytes;

const MAGIC: &[u8; 16] = b"RAPPORT-BACKUP\x00\x01";
const CHUNK: usize = 1024 * 1024;
const HEADER: usize = 16 + 16 + 7;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a Rapport backup (the header is wrong)")]
    NotABackup,
    #[error("the key is wrong or the backup is damaged")]
    WrongKeyOrDamaged,
    #[error("the backup key must be at least 16 characters")]
    WeakKey,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn cipher(passphrase: &str, salt: &[u8]) -> Result<ChaCha20Poly1305, BackupError> {
    if passphrase.chars().count() < 16 {
        return Err(BackupError::WeakKey);
    }
    let params = Params::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, Params::DEFAULT_P_COST, Some(32))
        .map_err(|_| BackupError::WeakKey)?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|_| BackupError::WeakKey)?;
    Ok(ChaCha20Poly1305::new(Key::from_slice(&key)))
}

fn nonce(prefix: &[u8], counter: u32, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..7].copy_from_slice(prefix);
    nonce[7..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// Reads until `buffer` is full or the input ends; returns how much was read.
fn fill(input: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut read = 0;
    while read < buffer.len() {
        match input.read(&mut buffer[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read)
}

/// Encrypts all of `plain` into `out` with a key derived from `passphrase`.
pub fn encrypt(mut plain: impl Read, mut out: impl Write, passphrase: &str) -> Result<(), BackupError> {
    let (salt, prefix) = (random_bytes::<16>(), random_bytes::<7>());
    let cipher = cipher(passphrase, &salt)?;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&salt);
    header.extend_from_slice(&prefix);
    out.write_all(&header)?;
    let mut current = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut current_len = fill(&mut plain, &mut current)?;
    let mut counter = 0u32;
    loop {
        let next_len = if current_len == CHUNK { fill(&mut plain, &mut next)? } else { 0 };
        let last = next_len == 0;
        let payload = Payload { msg: &current[..current_len], aad: &header };
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce(&prefix, counter, last)), payload)
            .map_err(|_| BackupError::WrongKeyOrDamaged)?;
        out.write_all(&(sealed.len() as u32).to_be_bytes())?;
        out.write_all(&sealed)?;
        if last {
            break;
        }
        std::mem::swap(&mut current, &mut next);
        current_len = next_len;
        counter = counter.checked_add(1).ok_or(BackupError::WrongKeyOrDamaged)?;
    }
    out.flush()?;
    Ok(())
}

/// Decrypts a backup written by [`encrypt`] into `out`; any alteration,
/// truncation or a wrong passphrase is an error (and `out` must then be discarded).
pub fn decrypt(mut sealed: impl Read, mut out: impl Write, passphrase: &str) -> Result<(), BackupError> {
    let mut header = [0u8; HEADER];
    if fill(&mut sealed, &mut header)? < HEADER || &header[..16] != MAGIC {
        return Err(BackupError::NotABackup);
    }
    let cipher = cipher(passphrase, &header[16..32])?;
    let prefix = &header[32..39];
    let mut counter = 0u32;
    loop {
        let mut length = [0u8; 4];
        if fill(&mut sealed, &mut length)? < 4 {
            return Err(BackupError::WrongKeyOrDamaged); // cut before the last chunk
        }
        let length = u32::from_be_bytes(length) as usize;
        if length > CHUNK + 16 {
            return Err(BackupError::WrongKeyOrDamaged);
        }
        let mut chunk = vec![0u8; length];
        if fill(&mut sealed, &mut chunk)? < length {
            return Err(BackupError::WrongKeyOrDamaged);
        }
        // A chunk opens either as a middle chunk or as the last one.
        for last in [false, true] {
            let payload = Payload { msg: &chunk, aad: &header };
            if let Ok(plain) = cipher.decrypt(Nonce::from_slice(&nonce(prefix, counter, last)), payload) {
                out.write_all(&plain)?;
                if last {
                    let mut extra = [0u8; 1];
                    return match sealed.read(&mut extra)? {
                        0 => Ok(out.flush()?),
                        _ => Err(BackupError::WrongKeyOrDamaged), // bytes after the last chunk
                    };
                }
                break;
            } else if last {
                return Err(BackupError::WrongKeyOrDamaged);
            }
        }
        counter = counter.checked_add(1).ok_or(BackupError::WrongKeyOrDamaged)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "correct horse battery staple";

    fn round_trip(data: &[u8]) -> Vec<u8> {
        let mut sealed = Vec::new();
        encrypt(data, &mut sealed, KEY).expect("encrypt");
        let mut plain = Vec::new();
        decrypt(sealed.as_slice(), &mut plain, KEY).expect("decrypt");
        plain
    }

    #[test]
    fn round_trips_empty_small_and_multi_chunk_data() {
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            assert_eq!(round_trip(&data), data, "size {size}");
        }
    }

    #[test]
    fn wrong_keys_alterations_and_cuts_are_refused() {
        let data: Vec<u8> = (0..CHUNK + 100).map(|i| (i % 7) as u8).collect();
        let mut sealed = Vec::new();
        encrypt(data.as_slice(), &mut sealed, KEY).expect("encrypt");
        let open = |bytes: &[u8], key: &str| decrypt(bytes, Vec::new(), key).map_err(|e| e.to_string());
        assert!(open(&sealed, KEY).is_ok());
        assert_eq!(open(&sealed, "another long passphrase"), Err("the key is wrong or the backup is damaged".into()));
        let mut flipped = sealed.clone();
        flipped[HEADER + 100] ^= 1;
        assert!(open(&flipped, KEY).is_err(), "an altered byte");
        let first_chunk_end = HEADER + 4 + CHUNK + 16;
        assert!(open(&sealed[..first_chunk_end], KEY).is_err(), "cut after a middle chunk");
        let mut extended = sealed.clone();
        extended.push(0);
        assert!(open(&extended, KEY).is_err(), "bytes after the end");
        assert_eq!(
            open(b"SQLite format 3\0 not a backup at all", KEY),
            Err("not a Rapport backup (the header is wrong)".into())
        );
        assert!(matches!(encrypt(&b"x"[..], Vec::new(), "short"), Err(BackupError::WeakKey)));
    }
}
