package store

import "context"

// UpdateSigningKeyEncryption replaces the stored private key of signing key kid
// and the id of the secret key that encrypts it, provided it is still encrypted
// with fromKeyID ("" for a key stored unencrypted). The condition makes two
// processes re-encrypting at once harmless: the second changes nothing. It
// reports whether the row changed.
func (s *Store) UpdateSigningKeyEncryption(ctx context.Context, kid, fromKeyID, toKeyID string, privateKey []byte) (bool, error) {
	res := s.conn(ctx).Model(&SigningKey{}).Where("id = ? AND secret_key_id = ?", kid, fromKeyID).
		Updates(map[string]any{"private_key": privateKey, "secret_key_id": toKeyID})
	return res.RowsAffected > 0, wrap("update signing key encryption", res.Error)
}
