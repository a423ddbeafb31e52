package repo

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/backupd/backupd/internal/domain"
)

// ageMagic starts every age-encrypted object.
var ageMagic = []byte("age-encryption.org/v1\n")

// maxObject bounds what is read into memory from a config or snapshot
// object, so that a damaged or hostile store cannot exhaust memory.
const maxObject = 64 << 20

// sealObject encrypts plain to the recipients, or returns it as it is when
// there are none.
func sealObject(recipients []age.Recipient, plain []byte) ([]byte, error) {
	if len(recipients) == 0 {
		return plain, nil
	}
	var out bytes.Buffer
	w, err := age.Encrypt(&out, recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return out.Bytes(), nil
}

// openObject decrypts what sealObject made. An encrypted repository
// (encrypted true) refuses a plain object: someone who can write to the
// store must not be able to slip in a snapshot of their own.
func openObject(ids []age.Identity, data []byte, encrypted bool) ([]byte, error) {
	if !bytes.HasPrefix(data, ageMagic) {
		if encrypted {
			return nil, domain.Errorf(domain.EINVALID, "object is not encrypted, but the repository is")
		}
		return data, nil
	}
	if len(ids) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "the repository is encrypted with age: give the identity file that holds the private key of one of its recipients")
	}
	r, err := age.Decrypt(bytes.NewReader(data), ids...)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, domain.Errorf(domain.EINVALID, "the repository is encrypted to other keys: no identity given is one of its recipients")
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxObject))
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return plain, nil
}

// newDataKey draws a pack's data key and its AEAD.
func newDataKey() ([]byte, cipher.AEAD) {
	key := make([]byte, chacha20poly1305.KeySize)
	rand.Read(key)
	aead, _ := chacha20poly1305.NewX(key) // the key has the right size
	return key, aead
}

// blobAD binds a blob's ciphertext to its pack and position, so that a
// blob moved within or between packs does not decrypt.
func blobAD(pack ID, index uint32) []byte {
	ad := make([]byte, 0, len(pack)+4)
	ad = append(ad, pack[:]...)
	return append(ad, byte(index), byte(index>>8), byte(index>>16), byte(index>>24))
}

// headerAD is the associated data of a pack's header.
func headerAD(pack ID) []byte { return append([]byte("backupd pack header\x00"), pack[:]...) }

// seal appends nonce || ciphertext of plain to dst.
func seal(dst []byte, aead cipher.AEAD, plain, ad []byte) []byte {
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce) // 24 random bytes: XChaCha20 makes collisions negligible
	dst = append(dst, nonce...)
	return aead.Seal(dst, nonce, plain, ad)
}

// unseal decrypts what seal made, appending the plain text to dst.
func unseal(dst []byte, aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	ns := aead.NonceSize()
	if len(sealed) < ns+aead.Overhead() {
		return nil, errors.New("sealed data too short")
	}
	out, err := aead.Open(dst, sealed[:ns], sealed[ns:], ad)
	if err != nil {
		return nil, errors.New("authentication failed (damaged or altered)")
	}
	return out, nil
}

// openEnvelope recovers a pack's data key from its age envelope.
func openEnvelope(ids []age.Identity, env []byte) (cipher.AEAD, error) {
	key, err := openObject(ids, env, true)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("pack data key: %w", err)
	}
	return aead, nil
}
