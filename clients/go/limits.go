package rescp

// Text limits, read from the protos' own descriptors (the rescp.v1.text_limit field option),
// so the client and the server share one definition. Two uses: fit cuts a report down to the
// limits (a long message must never turn a report into INVALID_ARGUMENT and lose the error),
// and overLimit finds the first field of any other request the wire cannot carry, so the
// client refuses it with its own InvalidArgumentError before anything is sent. Lengths count
// Unicode code points, as the server does; a cut never splits one and mends invalid UTF-8.

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// limitOf is the text limit declared on a field, or nil.
func limitOf(field protoreflect.FieldDescriptor) *pb.TextLimit {
	options := field.Options()
	if options == nil || !proto.HasExtension(options, pb.E_TextLimit) {
		return nil
	}
	limit, _ := proto.GetExtension(options, pb.E_TextLimit).(*pb.TextLimit)
	return limit
}

// fit cuts every limited text field of m (not of its sub-messages) down to its limit.
func fit(m proto.Message) {
	message := m.ProtoReflect()
	fields := message.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		field := fields.Get(i)
		limit := limitOf(field)
		switch {
		case limit == nil:
		case field.IsMap():
			fitMap(message.Mutable(field).Map(), limit)
		case field.Kind() == protoreflect.StringKind:
			text := message.Get(field).String()
			message.Set(field, protoreflect.ValueOfString(cut(text, int(limit.GetMaxChars()))))
		}
	}
}

// fitMap keeps the entries that fit, in key order: each key and value cut, at most
// max_entries of them, and no more characters in all than max_total_chars.
func fitMap(entries protoreflect.Map, limit *pb.TextLimit) {
	kept := map[string]string{}
	entries.Range(func(key protoreflect.MapKey, value protoreflect.Value) bool {
		kept[key.String()] = value.String()
		return true
	})
	keys := make([]string, 0, len(kept))
	for key := range kept {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	entries.Range(func(key protoreflect.MapKey, _ protoreflect.Value) bool {
		entries.Clear(key)
		return true
	})
	total, count := 0, 0
	for _, key := range keys {
		k, v := cut(key, int(limit.GetMaxKeyChars())), cut(kept[key], int(limit.GetMaxChars()))
		size := utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
		if count == int(limit.GetMaxEntries()) ||
			(limit.GetMaxTotalChars() > 0 && total+size > int(limit.GetMaxTotalChars())) {
			return
		}
		total, count = total+size, count+1
		entries.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfString(v))
	}
}

// overLimit is the client's own InvalidArgumentError for the first limited string field of m
// that is too long, or nil.
func overLimit(m proto.Message) error {
	message := m.ProtoReflect()
	fields := message.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		field := fields.Get(i)
		limit := limitOf(field)
		if limit == nil || field.Kind() != protoreflect.StringKind || field.IsList() {
			continue
		}
		if utf8.RuneCountInString(message.Get(field).String()) > int(limit.GetMaxChars()) {
			return invalidArgument(string(field.Name()), "at most "+
				strconv.Itoa(int(limit.GetMaxChars()))+" characters")
		}
	}
	return nil
}

// cut shortens text to at most limit characters (0: no limit), never splitting a rune, and
// mends invalid UTF-8 (a proto string must be valid).
func cut(text string, limit int) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	if limit <= 0 || utf8.RuneCountInString(text) <= limit {
		return text
	}
	return string([]rune(text)[:limit])
}
