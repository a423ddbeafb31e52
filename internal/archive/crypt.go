package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"

	"github.com/backupd/backupd/internal/domain"
)

// EncryptedSuffix ends the name of an archive encrypted with age.
const EncryptedSuffix = ".age"

// ageMagic starts every age-encrypted file.
var ageMagic = []byte("age-encryption.org/v1\n")

// encrypted reports whether r, an archive as stored, is encrypted with
// age, and returns a reader that still starts at its first byte.
func encrypted(r io.Reader) (bool, io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(len(ageMagic))
	return bytes.Equal(head, ageMagic), br
}

// Decrypt returns the plain archive (tar in zstd) behind r: r itself if it
// is not encrypted, else r decrypted with one of ids. An encrypted archive
// without ids is an error saying what to give.
func Decrypt(r io.Reader, ids []age.Identity) (io.Reader, error) {
	enc, r := encrypted(r)
	if !enc {
		return r, nil
	}
	if len(ids) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "the archive is encrypted with age: give the identity file that holds the private key of one of its recipients")
	}
	d, err := age.Decrypt(r, ids...)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, domain.Errorf(domain.EINVALID, "the archive is encrypted with age to other keys: no identity given is one of its recipients")
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt archive: %w", err)
	}
	return d, nil
}

// ReadIdentities reads an age identity file (the output of age-keygen:
// one AGE-SECRET-KEY-1... per line, # comments).
func ReadIdentities(path string) ([]age.Identity, error) {
	data, err := readFileLimited(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return ids, nil
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
