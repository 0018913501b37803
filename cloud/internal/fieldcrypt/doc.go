// Package fieldcrypt owns encryption at rest of sensitive database columns: rider phone
// numbers, payment-method provider tokens, admin TOTP secrets.
//
// Each value is sealed with AES-256-GCM under the keyring's current key, with a fresh random
// 96-bit nonce. The key id is stored in its own column next to the ciphertext (Sealed.KeyID),
// so keys can rotate: a keyring holds the current key for sealing plus older keys for opening,
// and Rotate re-seals a value under the current key. Key material comes from configuration as
// base64 (32 bytes), never from code or the database.
//
// Ciphertext layout: version byte (1) | nonce (12) | GCM ciphertext and tag (16).
// Additional authenticated data binds the version, the key id and a caller-chosen context
// (e.g. "riders.phone_ciphertext:<rider id>"), so a ciphertext copied to another row or column,
// or relabelled with another key id, fails to open. Any change to a sealed value is detected
// (ErrDecrypt). A Keyring is immutable after construction and safe for concurrent use.
package fieldcrypt
