package promauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsManagerAPI is the one Secrets Manager operation LoadCredentials
// needs, with the SDK's signature (*secretsmanager.Client implements it).
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsManagerAPI = (*secretsmanager.Client)(nil)

// secretDoc is the JSON held by the secret or the file.
type secretDoc struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

// LoadCredentials reads basic or bearer credentials from exactly one of a
// Secrets Manager secret (secretARN, read through sm) or a file. Both hold
// JSON: {"username": …, "password": …} for basic, {"token": …} for bearer; a
// bearer file may instead hold the bare token on one line. Modes none and
// sigv4 need no credentials and accept no source.
//
// Errors name the ARN or the file and the missing field, never the content.
func LoadCredentials(ctx context.Context, mode, secretARN, file string, sm SecretsManagerAPI) (Credentials, error) {
	switch mode {
	case "", ModeNone, ModeSigV4:
		if secretARN != "" || file != "" {
			return Credentials{}, fmt.Errorf("auth mode %s uses no credential secret or file", modeName(mode))
		}
		return Credentials{}, nil
	case ModeBasic, ModeBearer:
	default:
		return Credentials{}, fmt.Errorf("auth mode %q: want none, basic, bearer or sigv4", mode)
	}
	var raw []byte
	var source string
	switch {
	case secretARN != "" && file != "":
		return Credentials{}, errors.New("credentials: set a secret ARN or a file, not both")
	case secretARN != "":
		source = "secret " + secretARN
		if sm == nil {
			return Credentials{}, fmt.Errorf("%s: no Secrets Manager client", source)
		}
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretARN})
		if err != nil {
			return Credentials{}, fmt.Errorf("%s: get secret value: %w", source, err)
		}
		switch {
		case out.SecretString != nil:
			raw = []byte(*out.SecretString)
		default:
			raw = out.SecretBinary
		}
	case file != "":
		source = "file " + file
		b, err := os.ReadFile(file)
		if err != nil {
			// os errors name the path and the cause, not the content.
			return Credentials{}, fmt.Errorf("credentials: %w", err)
		}
		raw = b
	default:
		return Credentials{}, fmt.Errorf("auth mode %s needs a secret ARN or a file", mode)
	}

	doc, err := parseSecret(raw, mode == ModeBearer && file != "")
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", source, err)
	}
	switch mode {
	case ModeBasic:
		var missing []string
		if doc.Username == "" {
			missing = append(missing, `"username"`)
		}
		if doc.Password == "" {
			missing = append(missing, `"password"`)
		}
		if len(missing) > 0 {
			return Credentials{}, fmt.Errorf("%s: basic auth needs %s", source, strings.Join(missing, " and "))
		}
		return Credentials{Username: doc.Username, Password: Secret(doc.Password)}, nil
	default:
		if doc.Token == "" {
			return Credentials{}, fmt.Errorf(`%s: bearer auth needs "token"`, source)
		}
		return Credentials{Token: Secret(doc.Token)}, nil
	}
}

// parseSecret decodes the secret's JSON. Decoder errors are not wrapped:
// they can quote a piece of the content.
func parseSecret(raw []byte, bareTokenOK bool) (secretDoc, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return secretDoc{}, errors.New("empty")
	}
	if trimmed[0] != '{' {
		if !bareTokenOK {
			return secretDoc{}, errors.New("not a JSON object")
		}
		if bytes.ContainsAny(trimmed, "\r\n") {
			return secretDoc{}, errors.New("a bare token must be a single line")
		}
		return secretDoc{Token: string(trimmed)}, nil
	}
	var doc secretDoc
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		var field *json.UnmarshalTypeError
		if errors.As(err, &field) && field.Field != "" {
			return secretDoc{}, fmt.Errorf("field %q must be a string", field.Field)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			return secretDoc{}, errors.New(`unknown field (want "username"/"password" or "token")`)
		}
		return secretDoc{}, errors.New("not valid JSON")
	}
	if dec.More() {
		return secretDoc{}, errors.New("not valid JSON: data after the object")
	}
	return doc, nil
}

func modeName(mode string) string {
	if mode == "" {
		return ModeNone
	}
	return mode
}
