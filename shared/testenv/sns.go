package testenv

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SMSFilterPolicy is the filter policy of the template's SMS subscription:
// only critical notifications reach the phone.
const SMSFilterPolicy = `{"severity":["critical"]}`

// NewTopic creates an SNS topic named after name (made unique) and returns
// its ARN.
func NewTopic(t TB, cfg aws.Config, name string) string {
	t.Helper()
	topic, err := sns.NewFromConfig(cfg).CreateTopic(context.Background(), &sns.CreateTopicInput{Name: aws.String(UniqueName(name))})
	if err != nil {
		t.Fatalf("testenv: create topic: %v", err)
	}
	return aws.ToString(topic.TopicArn)
}

// SubscribeQueue creates an SQS queue and subscribes it to topicARN with the
// given filter policy ("" for none). moto records nothing for email and SMS
// subscriptions, so a queue stands in for each subscriber: with
// SMSFilterPolicy it receives what a phone would.
func SubscribeQueue(t TB, cfg aws.Config, topicARN, name, filterPolicy string) string {
	t.Helper()
	ctx := context.Background()
	sqsc := sqs.NewFromConfig(cfg)
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(UniqueName(name))})
	if err != nil {
		t.Fatalf("testenv: create queue: %v", err)
	}
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("testenv: queue attributes: %v", err)
	}
	in := &sns.SubscribeInput{TopicArn: aws.String(topicARN), Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"])}
	if filterPolicy != "" {
		in.Attributes = map[string]string{"FilterPolicy": filterPolicy}
	}
	if _, err := sns.NewFromConfig(cfg).Subscribe(ctx, in); err != nil {
		t.Fatalf("testenv: subscribe queue: %v", err)
	}
	return aws.ToString(q.QueueUrl)
}

// SNSMessage is one topic message as an SQS subscriber receives it: the
// subject, the default body and the message attributes.
type SNSMessage struct {
	Subject    string
	Body       string
	Attributes map[string]string
}

// ReceiveSNS takes every message waiting in queueURL (and deletes it).
func ReceiveSNS(t TB, cfg aws.Config, queueURL string) []SNSMessage {
	t.Helper()
	ctx := context.Background()
	c := sqs.NewFromConfig(cfg)
	var out []SNSMessage
	for {
		res, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queueURL, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("testenv: receive: %v", err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			var env struct {
				Subject           string
				Message           string
				MessageAttributes map[string]struct{ Value string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
				t.Fatalf("testenv: not an SNS envelope: %v: %s", err, aws.ToString(m.Body))
			}
			msg := SNSMessage{Subject: env.Subject, Body: env.Message, Attributes: map[string]string{}}
			for k, v := range env.MessageAttributes {
				msg.Attributes[k] = v.Value
			}
			out = append(out, msg)
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("testenv: delete message: %v", err)
			}
		}
	}
}
