//! The bearer token every endpoint but `/healthz` asks for.
//!
//! Only the token's blake3 hash is kept in memory after loading. A presented token is hashed
//! and the two hashes compared with blake3's constant-time equality, so neither the token's
//! length nor the position of a first wrong byte changes how long a refusal takes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::ServeError;

/// The shortest token accepted from a user: 128 bits of hex.
pub const MIN_TOKEN_LEN: usize = 32;

#[derive(Clone)]
pub struct Token {
    hash: blake3::Hash,
}

/// Where the token came from, for the start-up message (the token itself is never printed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Environment(String),
    File(PathBuf),
    Created(PathBuf),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Environment(name) => write!(f, "from ${name}"),
            TokenSource::File(path) => write!(f, "from {}", path.display()),
            TokenSource::Created(path) => write!(f, "new, written to {} (mode 0600)", path.display()),
        }
    }
}

impl Token {
    /// A token from a user's secret; `origin` names where it came from in the error.
    pub fn new(secret: &str, origin: &str) -> Result<Token, ServeError> {
        let secret = secret.trim();
        if secret.len() < MIN_TOKEN_LEN {
            return Err(ServeError::Token(format!(
                "the token {origin} has {} characters; use at least {MIN_TOKEN_LEN} (e.g. `openssl rand -hex 32`)",
                secret.len()
            )));
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ServeError::Token(format!(
                "the token {origin} contains whitespace or control characters; an HTTP header cannot carry it"
            )));
        }
        Ok(Token { hash: blake3::hash(secret.as_bytes()) })
    }

    /// Does `presented` (the bytes after `Bearer `) equal the token? Constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        blake3::hash(presented) == self.hash
    }

    /// The token from environment variable `env` if set, else from `file`, else the state's
    /// token file `default_file`, created with a fresh random token on first start.
    pub fn resolve(env: &str, file: Option<&Path>, default_file: &Path) -> Result<(Token, TokenSource), ServeError> {
        if let Ok(secret) = std::env::var(env) {
            return Ok((Token::new(&secret, &format!("in ${env}"))?, TokenSource::Environment(env.to_string())));
        }
        if let Some(path) = file {
            return Ok((read_token_file(path)?, TokenSource::File(path.to_path_buf())));
        }
        if default_file.exists() {
            return Ok((read_token_file(default_file)?, TokenSource::File(default_file.to_path_buf())));
        }
        let secret = random_hex(32)?;
        write_private(default_file, &secret)?;
        Ok((Token::new(&secret, "just created")?, TokenSource::Created(default_file.to_path_buf())))
    }
}

/// Reads a token file, refusing one that other users may read.
fn read_token_file(path: &Path) -> Result<Token, ServeError> {
    let meta = fs::metadata(path).map_err(|e| ServeError::Token(format!("{}: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(ServeError::Token(format!(
            "{} can be read by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        )));
    }
    let secret = fs::read_to_string(path).map_err(|e| ServeError::Token(format!("{}: {e}", path.display())))?;
    Token::new(&secret, &format!("in {}", path.display()))
}

fn random_hex(bytes: usize) -> Result<String, ServeError> {
    let mut raw = vec![0u8; bytes];
    getrandom::getrandom(&mut raw).map_err(|e| ServeError::Token(format!("no randomness for a new token: {e}")))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates `path` readable by its owner only; never replaces an existing file.
fn write_private(path: &Path, secret: &str) -> Result<(), ServeError> {
    let failed = |e: std::io::Error| ServeError::Token(format!("create {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(failed)?;
    file.write_all(secret.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_itself_only() {
        let token = Token::new(&"a".repeat(40), "test").unwrap();
        assert!(token.matches("a".repeat(40).as_bytes()));
        assert!(!token.matches("a".repeat(39).as_bytes()));
        assert!(!token.matches(b""));
        assert!(Token::new("short", "test").is_err());
        assert!(Token::new(&format!("{} b", "a".repeat(40)), "test").is_err());
    }

    #[test]
    fn first_start_creates_a_private_token_that_the_next_start_reads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve/token");
        let env = "FLOW_SERVE_TOKEN_TEST_UNSET";
        let (first, source) = Token::resolve(env, None, &file).unwrap();
        assert_eq!(source, TokenSource::Created(file.clone()));
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let secret = fs::read_to_string(&file).unwrap();
        assert!(first.matches(secret.trim().as_bytes()));
        let (again, source) = Token::resolve(env, None, &file).unwrap();
        assert_eq!(source, TokenSource::File(file.clone()));
        assert!(again.matches(secret.trim().as_bytes()));
    }

    #[test]
    fn a_token_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        fs::write(&file, "b".repeat(40)).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let error = Token::resolve("FLOW_SERVE_TOKEN_TEST_UNSET", Some(&file), &dir.path().join("x")).err().unwrap();
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }
}
