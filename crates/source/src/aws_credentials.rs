//! The AWS credential chain as the AWS CLI resolves it, for every S3 read: environment
//! variables, `~/.aws/config` and `credentials` profiles (`AWS_PROFILE`; `role_arn` with
//! `source_profile` assumes a role through STS; SSO sessions; `credential_process`), web
//! identity, ECS and EC2 instance metadata. The official `aws-config` crate does the resolving;
//! this module only hands its credentials to `object_store`, whose own environment-only lookup
//! it replaces. The region comes from the same chain (environment, then the profile).

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;

/// `object_store`'s view of the chain's (cached, refreshed) credentials.
#[derive(Debug)]
pub struct ChainCredentials {
    provider: SharedCredentialsProvider,
}

#[async_trait::async_trait]
impl CredentialProvider for ChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let c = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            }
        })?;
        Ok(Arc::new(AwsCredential {
            key_id: c.access_key_id().to_owned(),
            secret_key: c.secret_access_key().to_owned(),
            token: c.session_token().map(str::to_owned),
        }))
    }
}

/// The chain for processes that open stores from synchronous code inside an async runtime (the
/// DataFusion executors): resolved on the first request instead of at open.
#[derive(Debug, Default)]
pub struct LazyChain {
    provider: tokio::sync::OnceCell<Result<SharedCredentialsProvider, String>>,
}

#[async_trait::async_trait]
impl CredentialProvider for LazyChain {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let provider = self
            .provider
            .get_or_init(|| async { load().await.map(|(c, _)| c.provider.clone()) })
            .await
            .clone()
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: e.into(),
            })?;
        ChainCredentials { provider }.get_credential().await
    }
}

/// Which profile the chain reads, for messages (`AWS_PROFILE`, else `default`).
pub fn profile_name() -> String {
    std::env::var("AWS_PROFILE")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// The AWS SDK configuration of the chain (credentials, region, endpoints), for SDK clients
/// (SQS) and for [`load`].
pub async fn sdk_config() -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}

/// For AWS SDK clients called from blocking code (IAM, Security Hub): a current-thread runtime
/// and the chain's configuration, with `region` instead of the configured one when given, and
/// `fallback` when neither is there.
pub fn blocking_sdk_config(
    region: Option<&str>,
    fallback: Option<&str>,
) -> std::io::Result<(tokio::runtime::Runtime, aws_config::SdkConfig)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = runtime.block_on(sdk_config());
    let pick = region.or_else(|| config.region().is_none().then_some(fallback).flatten());
    let config = match pick {
        Some(r) => config
            .into_builder()
            .region(aws_config::Region::new(r.to_owned()))
            .build(),
        None => config,
    };
    Ok((runtime, config))
}

/// Resolves the chain once (so that a broken profile is an error now, naming the profile and
/// what is missing, never a secret); returns the credentials for `object_store` and the region.
pub async fn load() -> Result<(Arc<ChainCredentials>, Option<String>), String> {
    let config = sdk_config().await;
    let Some(provider) = config.credentials_provider() else {
        return Err("no AWS credential provider could be configured".to_owned());
    };
    if let Err(e) = provider.provide_credentials().await {
        return Err(format!(
            "no AWS credentials (profile {:?}): {}",
            profile_name(),
            error_chain(&e)
        ));
    }
    Ok((
        Arc::new(ChainCredentials { provider }),
        config.region().map(|r| r.to_string()),
    ))
}

/// An error with its sources, `: `-separated (the SDK's errors say little at the top).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(x) = source {
        s.push_str(": ");
        s.push_str(&x.to_string());
        source = x.source();
    }
    s
}
