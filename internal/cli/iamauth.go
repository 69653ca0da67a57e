package cli

import (
	"context"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	rdsauth "github.com/aws/aws-sdk-go-v2/feature/rds/auth"

	"github.com/hellosvc/hello/internal/store/postgres"
)

// rdsTokens returns the token source of HELLO_DB_IAM_AUTH=on: an RDS IAM auth token signed with
// the task's credentials (region and credentials from the standard AWS environment: the ECS task
// role, IRSA, AWS_REGION), one per new connection.
func rdsTokens(ctx context.Context) (postgres.TokenSource, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("HELLO_DB_IAM_AUTH: loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("HELLO_DB_IAM_AUTH: no AWS region (set AWS_REGION)")
	}
	return func(ctx context.Context, endpoint, user string) (string, error) {
		return rdsauth.BuildAuthToken(ctx, endpoint, cfg.Region, user, cfg.Credentials)
	}, nil
}
