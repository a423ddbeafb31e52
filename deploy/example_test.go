package deploy_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"gopkg.in/yaml.v3"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/testcert"
	"github.com/backupd/backupd/internal/testdaemon"
)

// TestExampleConfigChecks runs backupd config check on
// deploy/backupd.example.yaml with the variables it names set: it must
// pass, so that the example is a config the daemon takes.
func TestExampleConfigChecks(t *testing.T) {
	backupd, _ := testdaemon.Binaries(t)
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identity := filepath.Join(dir, "age-identity.txt")
	if err := os.WriteFile(identity, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testcert.NewCA(t, "example").WriteLeaf(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	cmd := exec.Command(backupd, "config", "check", "--config", "backupd.example.yaml")
	cmd.Env = append(os.Environ(),
		"BACKUPD_TOKEN=admin-token-0123456789abcdef", "PROM_TOKEN=prom-token-0123456789abcdef",
		"CRON_TOKEN=cron-token-0123456789abcdef", "S3_ACCESS_KEY=access", "S3_SECRET_KEY=secret",
		"BACKUPD_AGE_RECIPIENT="+id.Recipient().String(), "BACKUPD_AGE_IDENTITY="+identity,
		"BACKUPD_TLS_DIR="+dir, "WEBHOOK_SECRET=whsec_"+b64("inbound secret"), "CHAT_SECRET=whsec_"+b64("outbound secret"),
		"PGPASSWORD=secret")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("backupd config check on the example: %v\n%s", err, out)
	}
	t.Logf("config check:\n%s", out)
}

// TestExampleConfigHasEveryKey checks that the example names every key of
// config.Config, each with a comment, and nothing else.
func TestExampleConfigHasEveryKey(t *testing.T) {
	raw, err := os.ReadFile("backupd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	commented := map[string]bool{}
	exampleKeys(doc.Content[0], "", commented)
	want := configKeys(reflect.TypeFor[config.Config](), "")
	for _, k := range want {
		has, ok := commented[k]
		switch {
		case !ok:
			t.Errorf("the example lacks %s", k)
		case !has:
			t.Errorf("the example has %s without a comment", k)
		}
	}
	for k := range commented {
		if !slices.Contains(want, k) {
			t.Errorf("the example has %s, which is not a config key", k)
		}
	}
}

// configKeys lists the yaml keys of type t as paths: a.b, a[].b for a
// list of mappings, sources.*.kind for a map.
func configKeys(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		out = append(out, path)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath() && ft.Name() != "Duration":
			out = append(out, configKeys(ft, path+".")...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configKeys(ft.Elem(), path+".*.")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configKeys(ft.Elem(), path+"[].")...)
		}
	}
	return out
}

// exampleKeys records the key paths under n (in configKeys' form), each
// true if any occurrence has a comment on, above or beside it.
func exampleKeys(n *yaml.Node, prefix string, commented map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := prefix + k.Value
			if prefix == "sources." {
				path = "sources.*" // a source's own name
			} else {
				commented[path] = commented[path] || k.HeadComment != "" || k.LineComment != "" || v.LineComment != "" ||
					hasComment(v)
			}
			exampleKeys(v, path+".", commented)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind == yaml.MappingNode {
				exampleKeys(item, strings.TrimSuffix(prefix, ".")+"[].", commented)
			}
		}
	}
}

// hasComment reports whether the first line of a mapping or a sequence
// value carries a comment, which then stands for the key above it.
func hasComment(v *yaml.Node) bool {
	if len(v.Content) == 0 {
		return false
	}
	first := v.Content[0]
	return first.HeadComment != "" || first.LineComment != ""
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
