package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// checkNode walks the YAML document against the Config struct before it is
// decoded, so that a mistake is reported with its key path, its line, what
// was expected and an example, rather than in yaml.v3's words ("field x not
// found in type config.Config", "cannot unmarshal !!int into
// time.Duration"). The known keys come from the structs' yaml tags, so the
// check cannot drift from the structs. Values are tried with yaml.v3's own
// decoder, so the walk accepts exactly what the decode accepts.
func checkNode(doc *yaml.Node) error {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		doc = doc.Content[0]
	}
	var w walker
	w.walk("", doc, reflect.TypeFor[Config]())
	return errors.Join(w.errs...)
}

type walker struct{ errs []error }

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

func (w *walker) bad(path string, line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		w.errs = append(w.errs, fmt.Errorf("line %d: %s", line, msg))
		return
	}
	w.errs = append(w.errs, fmt.Errorf("%s (line %d): %s", path, line, msg))
}

func (w *walker) walk(path string, n *yaml.Node, t reflect.Type) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.ShortTag() == "!!null" {
		return // leaves the default in place
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	custom := reflect.PointerTo(t).Implements(unmarshalerType)
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		before := len(w.errs)
		w.walkStruct(path, n, t)
		if custom && len(w.errs) == before {
			w.leaf(path, n, t) // the type's own rules, e.g. Token's
		}
	case custom:
		w.leaf(path, n, t)
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.bad(path, n.Line, "expected a mapping of keys to values (key: value on lines of their own), got %s", got(n))
			return
		}
		if t.Kind() == reflect.Map {
			w.walkMap(path, n, t)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.bad(path, n.Line, "expected a list like [a, b] or lines starting with \"- \", got %s", got(n))
			return
		}
		for i, item := range n.Content {
			w.walk(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())
		}
	default:
		w.leaf(path, n, t)
	}
}

func (w *walker) walkStruct(path string, n *yaml.Node, t reflect.Type) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" { // a merge key: its mappings hold this struct's keys
			w.walkMerge(path, v, t)
			continue
		}
		f, ok := fields[k.Value]
		if !ok {
			w.bad(path, k.Line, "%s", unknownKey(k.Value, t))
			continue
		}
		w.walk(join(path, k.Value), v, f.Type)
	}
}

func (w *walker) walkMerge(path string, v *yaml.Node, t reflect.Type) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind == yaml.SequenceNode {
		for _, m := range v.Content {
			w.walkMerge(path, m, t)
		}
		return
	}
	if v.Kind == yaml.MappingNode {
		w.walkStruct(path, v, t)
	}
}

func (w *walker) walkMap(path string, n *yaml.Node, t reflect.Type) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		w.walk(join(path, n.Content[i].Value), n.Content[i+1], t.Elem())
	}
}

// leaf decodes n into a fresh value of type t, as the real decode will,
// and explains a failure.
func (w *walker) leaf(path string, n *yaml.Node, t reflect.Type) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil && isInteger(t) && t != durationType && n.ShortTag() != "!!int" {
		// yaml.v3 cuts 1.5 down to 1 without a word: refuse it here.
		err = errors.New("not a whole number")
	}
	if err == nil {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// The type's own message; drop a "line N: " it starts with, the
		// path and line are put in front.
		msg := err.Error()
		if rest, ok := strings.CutPrefix(msg, fmt.Sprintf("line %d: ", n.Line)); ok {
			msg = rest
		}
		w.bad(path, n.Line, "%s", msg)
		return
	}
	w.bad(path, n.Line, "expected %s, got %s", expected(t), got(n))
}

// expected describes what a value of type t looks like, with an example.
func expected(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration like 90s or 2h"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case isInteger(t):
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number like 1.5"
	case t.Kind() == reflect.String:
		return `a string (quote it if need be: "...")`
	}
	return "a " + t.String()
}

// got shows the value found: a string quoted, other scalars as written.
func got(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.ShortTag() == "!!str" {
		return fmt.Sprintf("%q", n.Value)
	}
	return n.Value
}

func isInteger(t reflect.Type) bool {
	k := t.Kind()
	return k >= reflect.Int && k <= reflect.Uint64
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct t to its fields, as yaml.v3 names
// them: the tag's name, else the field's name in lower case.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}
