package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// SNSAPI is the one SNS operation the publisher uses; *sns.Client has it.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SMSTypeAttribute sets the SMS type of one publish (AWS.SNS.SMS.SMSType).
const SMSTypeAttribute = "AWS.SNS.SMS.SMSType"

// SNS publishes messages to one standard topic.
type SNS struct {
	client SNSAPI
	topic  string
}

// NewSNS returns a publisher to topicARN.
func NewSNS(client SNSAPI, topicARN string) (*SNS, error) {
	if client == nil {
		return nil, errors.New("sns publisher: client is required")
	}
	if topicARN == "" {
		return nil, errors.New("sns publisher: topic ARN is required")
	}
	return &SNS{client: client, topic: topicARN}, nil
}

// PublishInput is the Publish request for m: MessageStructure json with
// default and email (the complete text) and sms (one short line), an ASCII
// subject, and the routing attributes. The attribute summary repeats the SMS
// line for SQS, HTTPS and chat integrations, which receive the default body.
func PublishInput(topicARN string, m Message) (*sns.PublishInput, error) {
	email, short := Email(m), SMS(m)
	body, err := json.Marshal(map[string]string{"default": email, "email": email, "sms": short})
	if err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	attr := func(v string) types.MessageAttributeValue {
		if v == "" {
			v = "none" // SNS refuses empty attribute values
		}
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return &sns.PublishInput{
		TopicArn:         aws.String(topicARN),
		Message:          aws.String(string(body)),
		MessageStructure: aws.String("json"),
		Subject:          aws.String(Subject(m)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"severity":        attr(m.Severity),
			"status":          attr(string(m.Status)),
			"alertname":       attr(m.Rule),
			"notification_id": attr(m.ID),
			"summary":         attr(short),
			// Alerts are transactional: carriers deliver them ahead of
			// promotional traffic, and some countries block promotional
			// SMS at night.
			SMSTypeAttribute: attr("Transactional"),
		},
	}, nil
}

// Publish sends m.
func (s *SNS) Publish(ctx context.Context, m Message) error {
	in, err := PublishInput(s.topic, m)
	if err != nil {
		return err
	}
	if _, err := s.client.Publish(ctx, in); err != nil {
		return fmt.Errorf("sns publish %s %s: %w", m.Rule, m.Status, err)
	}
	return nil
}

// Text prints messages instead of sending them: what -dry-run injects.
type Text struct {
	w io.Writer
}

// NewText returns a publisher printing to w.
func NewText(w io.Writer) *Text { return &Text{w: w} }

// Publish prints the subject, the SMS line and the email body of m.
func (t *Text) Publish(_ context.Context, m Message) error {
	_, err := fmt.Fprintf(t.w, "--- notification %s\nSubject: %s\nSMS: %s\n\n%s\n", m.ID, Subject(m), SMS(m), Email(m))
	if err != nil {
		return fmt.Errorf("print notification: %w", err)
	}
	return nil
}
