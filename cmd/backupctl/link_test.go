package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/backupd/backupd/internal/testdaemon"
)

// With tokens configured, a download link (what the dashboard follows)
// fetches and resumes one archive without the token, and only that one;
// asking for a link needs the token and a backup with an archive.
func TestDownloadLinkWithoutToken(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Token: token, Config: "auth:\n  tokens: [\"" + token + "\"]\n" + bigSource})
	b := runBackup(t, d, "big")
	do := func(method, path, auth, rng string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, d.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	linkPath := "/api/v1/backups/" + itoa(b.ID) + "/archive/link"
	if resp, _ := do("POST", linkPath, "", ""); resp.StatusCode != 401 {
		t.Fatalf("link without the token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := do("POST", "/api/v1/backups/999/archive/link", token, ""); resp.StatusCode != 404 {
		t.Fatalf("link to a backup that does not exist: %d, want 404", resp.StatusCode)
	}
	resp, body := do("POST", linkPath, token, "")
	var link struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &link); err != nil || resp.StatusCode != 200 || link.ExpiresAt == "" {
		t.Fatalf("link: %d %s (%v)", resp.StatusCode, body, err)
	}

	// The first GET builds the export: the catalog then has its digest
	// and size, which the body must match.
	resp, whole := do("GET", link.URL, "", "")
	sum := sha256.Sum256(whole)
	b = backup(t, d, b.ID)
	if resp.StatusCode != 200 || b.SHA256 == "" || hex.EncodeToString(sum[:]) != b.SHA256 || int64(len(whole)) != b.ExportBytes ||
		resp.Header.Get("Content-Digest") == "" {
		t.Fatalf("GET link: %d, %d bytes with sha256 %x, want the export (sha256 %s, %d bytes)", resp.StatusCode, len(whole), sum, b.SHA256, b.ExportBytes)
	}
	resp, tail := do("GET", link.URL, "", "bytes=1000-")
	if resp.StatusCode != 206 || string(tail) != string(whole[1000:]) {
		t.Fatalf("resume through the link: %d, %d bytes", resp.StatusCode, len(tail))
	}
	other := strings.Replace(link.URL, "/backups/"+itoa(b.ID)+"/", "/backups/"+itoa(b.ID+1)+"/", 1)
	if resp, body := do("GET", other, "", ""); resp.StatusCode != 401 || !strings.Contains(string(body), "not valid") {
		t.Fatalf("the link moved to another backup: %d %s, want 401", resp.StatusCode, body)
	}
	// A restart draws a new key: old links end.
	d.Restart()
	if resp, _ := do("GET", link.URL, "", ""); resp.StatusCode != 401 {
		t.Fatalf("link after a restart: %d, want 401", resp.StatusCode)
	}
}
