//! What the synthetic accounts call: services, API operations with request/response templates,
//! error codes, user agents, call profiles and name pools.
//!
//! Templates are JSON text with `$NAME` placeholders (`$$` for a literal `$`), compiled once into
//! segments by [`crate::render`]. A placeholder takes the same value everywhere in one record.

/// The 38 critical API names of rule D1 (seed 000), case-sensitive.
pub const CRITICAL_API_CALLS: [&str; 38] = [
    "ConsoleLogin",
    "StartInstances",
    "CreateAccessKey",
    "CreateGroup",
    "CreateUser",
    "PutGroupPolicy",
    "AssumeRoleWithWebIdentity",
    "SendCommand",
    "CreateLoginProfile",
    "AttachUserPolicy",
    "GetSessionToken",
    "RunInstances",
    "AuthorizeSecurityGroupIngress",
    "AddUserToGroup",
    "StopLogging",
    "GetSecretValue",
    "ListUsers",
    "AssumeRole",
    "DeleteTrail",
    "GetPasswordData",
    "DescribeInstances",
    "SwitchRole",
    "DeleteDetector",
    "CreateSecret",
    "GetCallerIdentity",
    "DeactivateMFADevice",
    "PutSecretValue",
    "ListBuckets",
    "CreateSnapshot",
    "ModifySnapshotAttribute",
    "PutBucketVersioning",
    "ModifyDBSnapshotAttribute",
    "DeleteObject",
    "GetObject",
    "DeleteDBInstance",
    "CopyObject",
    "DeletePublicAccessBlock",
    "ListSecrets",
];

/// Error codes the rules treat as "unauthorized" (D4's set; D1 uses the first and last).
pub const UNAUTHORIZED_CODES: [&str; 4] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
];

/// True for the D1 critical API names.
pub fn is_critical(name: &str) -> bool {
    CRITICAL_API_CALLS.contains(&name)
}

/// AWS regions used by the generator.
pub(crate) const REGIONS: [&str; 15] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-northeast-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-south-1",
    "sa-east-1",
];

/// Index of a region name in [`REGIONS`].
pub(crate) fn region_index(name: &str) -> u8 {
    REGIONS
        .iter()
        .position(|r| *r == name)
        .unwrap_or_else(|| panic!("unknown region {name}")) as u8
}

/// The country whose addresses AWS uses in a region (for the public IPs of roles).
pub(crate) fn region_country(region: &str) -> &'static str {
    match region {
        r if r.starts_with("us-") => "US",
        "ca-central-1" => "CA",
        "eu-west-1" => "IE",
        "eu-west-2" => "GB",
        "eu-west-3" => "FR",
        "eu-central-1" => "DE",
        "eu-north-1" => "SE",
        "ap-northeast-1" => "JP",
        "ap-southeast-1" => "SG",
        "ap-southeast-2" => "AU",
        "ap-south-1" => "IN",
        "sa-east-1" => "BR",
        _ => "US",
    }
}

/// An AWS service as seen in CloudTrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Svc {
    Iam,
    Sts,
    Ec2,
    S3,
    Secrets,
    Kms,
    Lambda,
    Ssm,
    Logs,
    Dynamo,
    Cfn,
    Ecr,
    Trail,
    Rds,
    Monitoring,
    Route53,
    Signin,
}

impl Svc {
    /// `eventSource`.
    pub(crate) fn source(self) -> &'static str {
        match self {
            Svc::Iam => "iam.amazonaws.com",
            Svc::Sts => "sts.amazonaws.com",
            Svc::Ec2 => "ec2.amazonaws.com",
            Svc::S3 => "s3.amazonaws.com",
            Svc::Secrets => "secretsmanager.amazonaws.com",
            Svc::Kms => "kms.amazonaws.com",
            Svc::Lambda => "lambda.amazonaws.com",
            Svc::Ssm => "ssm.amazonaws.com",
            Svc::Logs => "logs.amazonaws.com",
            Svc::Dynamo => "dynamodb.amazonaws.com",
            Svc::Cfn => "cloudformation.amazonaws.com",
            Svc::Ecr => "ecr.amazonaws.com",
            Svc::Trail => "cloudtrail.amazonaws.com",
            Svc::Rds => "rds.amazonaws.com",
            Svc::Monitoring => "monitoring.amazonaws.com",
            Svc::Route53 => "route53.amazonaws.com",
            Svc::Signin => "signin.amazonaws.com",
        }
    }

    /// IAM action prefix.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Svc::Secrets => "secretsmanager",
            Svc::Dynamo => "dynamodb",
            Svc::Cfn => "cloudformation",
            Svc::Monitoring => "cloudwatch",
            Svc::Trail => "cloudtrail",
            other => other.source().split('.').next().unwrap_or(""),
        }
    }

    /// Global services log in us-east-1.
    pub(crate) fn global(self) -> bool {
        matches!(self, Svc::Iam | Svc::Route53 | Svc::Signin)
    }

    /// `eventVersion`.
    pub(crate) fn version(self) -> &'static str {
        match self {
            Svc::Ec2 | Svc::S3 => "1.10",
            Svc::Sts | Svc::Route53 => "1.08",
            _ => "1.09",
        }
    }

    /// The access-denied error code this service writes.
    pub(crate) fn denied_code(self) -> &'static str {
        match self {
            Svc::Ec2 => "Client.UnauthorizedOperation",
            Svc::Secrets
            | Svc::Kms
            | Svc::Lambda
            | Svc::Ssm
            | Svc::Logs
            | Svc::Dynamo
            | Svc::Ecr
            | Svc::Trail => "AccessDeniedException",
            _ => "AccessDenied",
        }
    }

    /// The access-denied message template.
    pub(crate) fn denied_message(self) -> &'static str {
        match self {
            Svc::S3 => "Access Denied",
            Svc::Ec2 => {
                "You are not authorized to perform this operation. User: $CALLERARN is not authorized to perform: $ACTION because no identity-based policy allows the $ACTION action"
            }
            _ => {
                "User: $CALLERARN is not authorized to perform: $ACTION because no identity-based policy allows the $ACTION action"
            }
        }
    }

    /// The throttling error of this service.
    pub(crate) fn throttle(self) -> (&'static str, &'static str) {
        match self {
            Svc::Iam | Svc::Sts | Svc::Cfn | Svc::Rds | Svc::Monitoring => {
                ("Throttling", "Rate exceeded")
            }
            Svc::Ec2 => ("Client.RequestLimitExceeded", "Request limit exceeded."),
            Svc::S3 => ("SlowDown", "Please reduce your request rate."),
            Svc::Lambda => ("TooManyRequestsException", "Rate exceeded"),
            Svc::Dynamo => (
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            ),
            Svc::Kms => (
                "ThrottlingException",
                "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
            ),
            _ => ("ThrottlingException", "Rate exceeded"),
        }
    }

    /// `tlsDetails.clientProvidedHostHeader` pattern: `None` for global endpoints written as is.
    pub(crate) fn host_label(self) -> (&'static str, bool) {
        match self {
            Svc::Iam => ("iam.amazonaws.com", false),
            Svc::Route53 => ("route53.amazonaws.com", false),
            Svc::Signin => ("signin.aws.amazon.com", false),
            Svc::Ecr => ("api.ecr", true),
            Svc::Monitoring => ("monitoring", true),
            other => (other.prefix(), true),
        }
    }
}

/// Record shapes that need more than request/response templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Plain,
    /// S3 management call on the service: `additionalEventData`.
    S3Service,
    /// S3 bucket-level call: `additionalEventData` and a bucket resource.
    S3Bucket,
    /// S3 object-level data event: `additionalEventData`, object and bucket resources.
    S3Object,
    /// `AssumeRole`: role resource and `sharedEventID`.
    AssumeRole,
    /// KMS: key resource.
    Kms,
    /// `ConsoleLogin` (`AwsConsoleSignIn`).
    ConsoleLogin,
}

/// One API operation.
pub(crate) struct ApiDef {
    pub svc: Svc,
    pub name: &'static str,
    pub read_only: bool,
    pub kind: Kind,
    pub req: Option<&'static str>,
    pub resp: Option<&'static str>,
    /// Non-authorization errors (code, message template); throttling is always possible.
    pub errs: &'static [(&'static str, &'static str)],
}

const fn api(
    svc: Svc,
    name: &'static str,
    read_only: bool,
    req: Option<&'static str>,
    resp: Option<&'static str>,
    errs: &'static [(&'static str, &'static str)],
) -> ApiDef {
    ApiDef {
        svc,
        name,
        read_only,
        kind: Kind::Plain,
        req,
        resp,
        errs,
    }
}

const fn kind(mut a: ApiDef, kind: Kind) -> ApiDef {
    a.kind = kind;
    a
}

const NO_USER: &[(&str, &str)] = &[(
    "NoSuchEntityException",
    "The user with name $UNAME cannot be found.",
)];
const NO_ROLE: &[(&str, &str)] = &[(
    "NoSuchEntityException",
    "The role with name $ROLE cannot be found.",
)];
const NO_INSTANCE: &[(&str, &str)] = &[(
    "Client.InvalidInstanceID.NotFound",
    "The instance ID '$INST' does not exist",
)];
const NO_SECRET: &[(&str, &str)] = &[(
    "ResourceNotFoundException",
    "Secrets Manager can't find the specified secret.",
)];
const NO_FUNC: &[(&str, &str)] = &[(
    "ResourceNotFoundException",
    "Function not found: arn:aws:lambda:$REGION:$ACCT:function:$FUNC",
)];
const NO_PARAM: &[(&str, &str)] = &[("ParameterNotFound", "Parameter $PARAM not found.")];
const NO_TABLE: &[(&str, &str)] = &[(
    "ResourceNotFoundException",
    "Requested resource not found: Table: $TABLE not found",
)];
const NO_STACK: &[(&str, &str)] = &[("ValidationError", "Stack with id $STACK does not exist")];
const NO_KEY: &[(&str, &str)] = &[("NoSuchKey", "The specified key does not exist.")];
const NONE: &[(&str, &str)] = &[];

/// Every operation the generator can emit.
pub(crate) static APIS: &[ApiDef] = &[
    // IAM
    api(Svc::Iam, "ListUsers", true, None, None, NONE),
    api(
        Svc::Iam,
        "GetUser",
        true,
        Some(r#"{"userName":"$UNAME"}"#),
        None,
        NO_USER,
    ),
    api(
        Svc::Iam,
        "ListAccessKeys",
        true,
        Some(r#"{"userName":"$UNAME"}"#),
        None,
        NO_USER,
    ),
    api(
        Svc::Iam,
        "ListAttachedUserPolicies",
        true,
        Some(r#"{"userName":"$UNAME"}"#),
        None,
        NO_USER,
    ),
    api(
        Svc::Iam,
        "ListGroupsForUser",
        true,
        Some(r#"{"userName":"$UNAME"}"#),
        None,
        NO_USER,
    ),
    api(
        Svc::Iam,
        "ListMFADevices",
        true,
        Some(r#"{"userName":"$UNAME"}"#),
        None,
        NO_USER,
    ),
    api(Svc::Iam, "ListRoles", true, None, None, NONE),
    api(
        Svc::Iam,
        "GetRole",
        true,
        Some(r#"{"roleName":"$ROLE"}"#),
        None,
        NO_ROLE,
    ),
    api(
        Svc::Iam,
        "ListAttachedRolePolicies",
        true,
        Some(r#"{"roleName":"$ROLE"}"#),
        None,
        NO_ROLE,
    ),
    api(
        Svc::Iam,
        "ListRolePolicies",
        true,
        Some(r#"{"roleName":"$ROLE"}"#),
        None,
        NO_ROLE,
    ),
    api(
        Svc::Iam,
        "GetPolicy",
        true,
        Some(r#"{"policyArn":"arn:aws:iam::$ACCT:policy/$POLICY"}"#),
        None,
        NONE,
    ),
    api(
        Svc::Iam,
        "GetPolicyVersion",
        true,
        Some(r#"{"policyArn":"arn:aws:iam::$ACCT:policy/$POLICY","versionId":"v$N9"}"#),
        None,
        NONE,
    ),
    api(
        Svc::Iam,
        "ListPolicies",
        true,
        Some(r#"{"scope":"Local","onlyAttached":false,"policyUsageFilter":"PermissionsPolicy"}"#),
        None,
        NONE,
    ),
    api(Svc::Iam, "GetAccountSummary", true, None, None, NONE),
    api(
        Svc::Iam,
        "TagRole",
        false,
        Some(
            r#"{"roleName":"$ROLE","tags":[{"key":"ManagedBy","value":"terraform"},{"key":"Environment","value":"production"},{"key":"CostCenter","value":"cc-$N1000"}]}"#,
        ),
        None,
        NO_ROLE,
    ),
    api(
        Svc::Iam,
        "CreateUser",
        false,
        Some(r#"{"userName":"$NEWUSER","tags":[{"key":"team","value":"platform"}]}"#),
        Some(
            r#"{"user":{"path":"/","userName":"$NEWUSER","userId":"AIDA$KEY17","arn":"arn:aws:iam::$ACCT:user/$NEWUSER","createDate":"$TIMEIAM","tags":[{"key":"team","value":"platform"}]}}"#,
        ),
        &[(
            "EntityAlreadyExistsException",
            "User with name $NEWUSER already exists.",
        )],
    ),
    api(
        Svc::Iam,
        "CreateAccessKey",
        false,
        Some(r#"{"userName":"$UNAME"}"#),
        Some(
            r#"{"accessKey":{"userName":"$UNAME","accessKeyId":"$AKIANEW","status":"Active","createDate":"$TIMEIAM"}}"#,
        ),
        &[(
            "LimitExceededException",
            "Cannot exceed quota for AccessKeysPerUser: 2",
        )],
    ),
    api(
        Svc::Iam,
        "AttachUserPolicy",
        false,
        Some(r#"{"userName":"$UNAME","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}"#),
        None,
        NO_USER,
    ),
    api(
        Svc::Iam,
        "AddUserToGroup",
        false,
        Some(r#"{"groupName":"$GROUP","userName":"$UNAME"}"#),
        None,
        NO_USER,
    ),
    api(
        Svc::Iam,
        "PutGroupPolicy",
        false,
        Some(
            r#"{"groupName":"$GROUP","policyName":"$POLICY","policyDocument":"{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": [\"s3:GetObject\", \"s3:ListBucket\"],\n      \"Resource\": [\"arn:aws:s3:::$BUCKET\", \"arn:aws:s3:::$BUCKET/*\"]\n    }\n  ]\n}"}"#,
        ),
        None,
        NONE,
    ),
    // STS
    api(Svc::Sts, "GetCallerIdentity", true, None, None, NONE),
    kind(
        api(
            Svc::Sts,
            "AssumeRole",
            false,
            Some(
                r#"{"roleArn":"arn:aws:iam::$ACCT:role/$ROLE","roleSessionName":"$SESSNAME","durationSeconds":3600}"#,
            ),
            Some(concat!(
                r#"{"credentials":{"accessKeyId":"$ASIANEW","sessionToken":"$TOKEN","expiration":"$EXPIRYIAM"}"#,
                r#","assumedRoleUser":{"assumedRoleId":"AROA$KEY17:$SESSNAME","arn":"arn:aws:sts::$ACCT:assumed-role/$ROLE/$SESSNAME"}}"#
            )),
            NONE,
        ),
        Kind::AssumeRole,
    ),
    api(
        Svc::Sts,
        "GetSessionToken",
        true,
        Some(r#"{"durationSeconds":43200}"#),
        Some(concat!(
            r#"{"credentials":{"accessKeyId":"$ASIANEW","sessionToken":"$TOKEN","expiration":"$EXPIRYIAM"}"#,
            "}"
        )),
        NONE,
    ),
    // EC2
    api(
        Svc::Ec2,
        "DescribeInstances",
        true,
        Some(
            r#"{"instancesSet":{},"filterSet":{"items":[{"name":"instance-state-name","valueSet":{"items":[{"value":"running"},{"value":"stopped"}]}}]}}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "DescribeInstanceStatus",
        true,
        Some(
            r#"{"instancesSet":{"items":[{"instanceId":"$INST"}]},"filterSet":{},"includeAllInstances":false}"#,
        ),
        None,
        NO_INSTANCE,
    ),
    api(
        Svc::Ec2,
        "DescribeSecurityGroups",
        true,
        Some(
            r#"{"securityGroupSet":{},"securityGroupIdSet":{"items":[{"groupId":"$SG"}]},"filterSet":{}}"#,
        ),
        None,
        &[(
            "Client.InvalidGroup.NotFound",
            "The security group '$SG' does not exist",
        )],
    ),
    api(
        Svc::Ec2,
        "DescribeVpcs",
        true,
        Some(r#"{"vpcSet":{},"filterSet":{}}"#),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "DescribeSubnets",
        true,
        Some(
            r#"{"subnetSet":{},"filterSet":{"items":[{"name":"vpc-id","valueSet":{"items":[{"value":"$VPC"}]}}]}}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "DescribeVolumes",
        true,
        Some(
            r#"{"volumeSet":{},"filterSet":{"items":[{"name":"attachment.instance-id","valueSet":{"items":[{"value":"$INST"}]}}]}}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "DescribeSnapshots",
        true,
        Some(
            r#"{"snapshotSet":{},"ownersSet":{"items":[{"owner":"self"}]},"restorableBySet":{},"filterSet":{},"maxResults":1000}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "DescribeImages",
        true,
        Some(
            r#"{"executableBySet":{},"imagesSet":{"items":[{"imageId":"$AMI"}]},"ownersSet":{},"includeDeprecated":false,"includeDisabled":false,"filterSet":{}}"#,
        ),
        None,
        &[(
            "Client.InvalidAMIID.NotFound",
            "The image id '[$AMI]' does not exist",
        )],
    ),
    api(
        Svc::Ec2,
        "DescribeRegions",
        true,
        Some(r#"{"regionSet":{},"allRegions":false}"#),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "DescribeTags",
        true,
        Some(
            r#"{"filterSet":{"items":[{"name":"resource-id","valueSet":{"items":[{"value":"$INST"}]}}]}}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "DescribeNetworkInterfaces",
        true,
        Some(
            r#"{"networkInterfaceIdSet":{},"filterSet":{"items":[{"name":"vpc-id","valueSet":{"items":[{"value":"$VPC"}]}}]}}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "CreateTags",
        false,
        Some(
            r#"{"resourcesSet":{"items":[{"resourceId":"$INST"}]},"tagSet":{"items":[{"key":"Name","value":"$HOST"},{"key":"Environment","value":"production"}]}}"#,
        ),
        Some(r#"{"requestId":"$UUID2","_return":true}"#),
        NO_INSTANCE,
    ),
    api(
        Svc::Ec2,
        "StartInstances",
        false,
        Some(r#"{"instancesSet":{"items":[{"instanceId":"$INST"}]}}"#),
        Some(
            r#"{"requestId":"$UUID2","instancesSet":{"items":[{"instanceId":"$INST","currentState":{"code":0,"name":"pending"},"previousState":{"code":80,"name":"stopped"}}]}}"#,
        ),
        &[(
            "Client.IncorrectInstanceState",
            "The instance '$INST' is not in a state from which it can be started.",
        )],
    ),
    api(
        Svc::Ec2,
        "StopInstances",
        false,
        Some(r#"{"instancesSet":{"items":[{"instanceId":"$INST"}]},"force":false}"#),
        Some(
            r#"{"requestId":"$UUID2","instancesSet":{"items":[{"instanceId":"$INST","currentState":{"code":64,"name":"stopping"},"previousState":{"code":16,"name":"running"}}]}}"#,
        ),
        NO_INSTANCE,
    ),
    api(
        Svc::Ec2,
        "RunInstances",
        false,
        Some(
            r#"{"instancesSet":{"items":[{"imageId":"$AMI","minCount":1,"maxCount":1}]},"instanceType":"t3.medium","blockDeviceMapping":{},"availabilityZone":"$AZ","monitoring":{"enabled":false},"subnetId":"$SUBNET","disableApiTermination":false,"disableApiStop":false,"clientToken":"$UUID2","tagSpecificationSet":{"items":[{"resourceType":"instance","tags":[{"key":"Name","value":"$HOST"}]}]}}"#,
        ),
        Some(
            r#"{"requestId":"$UUID2","reservationId":"r-0$HEX17","ownerId":"$ACCT","groupSet":{},"instancesSet":{"items":[{"instanceId":"$INST","imageId":"$AMI","instanceState":{"code":0,"name":"pending"},"privateDnsName":"ip-$PRIVDASH.ec2.internal","amiLaunchIndex":0,"productCodes":{},"instanceType":"t3.medium","launchTime":$EPOCHMS,"placement":{"availabilityZone":"$AZ","tenancy":"default"},"monitoring":{"state":"disabled"},"subnetId":"$SUBNET","vpcId":"$VPC","privateIpAddress":"$PRIVIP","stateReason":{"code":"pending","message":"pending"},"architecture":"x86_64","rootDeviceType":"ebs","rootDeviceName":"/dev/xvda","blockDeviceMapping":{},"virtualizationType":"hvm","hypervisor":"xen","groupSet":{"items":[{"groupId":"$SG","groupName":"default"}]},"networkInterfaceSet":{},"ebsOptimized":false,"enaSupport":true,"cpuOptions":{"coreCount":1,"threadsPerCore":2},"metadataOptions":{"state":"pending","httpTokens":"required","httpPutResponseHopLimit":2,"httpEndpoint":"enabled"}}]}}"#,
        ),
        &[(
            "Server.InsufficientInstanceCapacity",
            "We currently do not have sufficient t3.medium capacity in the Availability Zone you requested ($AZ).",
        )],
    ),
    api(
        Svc::Ec2,
        "CreateSnapshot",
        false,
        Some(r#"{"volumeId":"$VOL","description":"automated backup $DAY"}"#),
        Some(
            r#"{"requestId":"$UUID2","snapshotId":"$SNAP","volumeId":"$VOL","status":"pending","startTime":$EPOCHMS,"progress":"","ownerId":"$ACCT","volumeSize":100,"encrypted":true,"kmsKeyId":"arn:aws:kms:$REGION:$ACCT:key/$KMSKEY","description":"automated backup $DAY"}"#,
        ),
        &[(
            "Client.SnapshotCreationPerVolumeRateExceeded",
            "The maximum per volume CreateSnapshot request rate has been exceeded. Use an increasing or variable sleep interval between requests.",
        )],
    ),
    api(
        Svc::Ec2,
        "AuthorizeSecurityGroupIngress",
        false,
        Some(
            r#"{"groupId":"$SG","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":443,"toPort":443,"groups":{},"ipRanges":{"items":[{"cidrIp":"10.0.0.0/16","description":"internal https"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}"#,
        ),
        Some(
            r#"{"requestId":"$UUID2","_return":true,"securityGroupRuleSet":{"items":[{"groupOwnerId":"$ACCT","groupId":"$SG","securityGroupRuleId":"sgr-0$HEX17","isEgress":false,"ipProtocol":"tcp","fromPort":443,"toPort":443,"cidrIpv4":"10.0.0.0/16","description":"internal https"}]}}"#,
        ),
        &[(
            "Client.InvalidPermission.Duplicate",
            "the specified rule \"peer: 10.0.0.0/16, TCP, from port: 443, to port: 443, ALLOW\" already exists",
        )],
    ),
    // S3
    kind(
        api(
            Svc::S3,
            "ListBuckets",
            true,
            Some(r#"{"Host":"s3.$REGION.amazonaws.com"}"#),
            None,
            NONE,
        ),
        Kind::S3Service,
    ),
    kind(
        api(
            Svc::S3,
            "GetBucketLocation",
            true,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","location":""}"#,
            ),
            None,
            NONE,
        ),
        Kind::S3Bucket,
    ),
    kind(
        api(
            Svc::S3,
            "GetBucketPolicy",
            true,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","policy":""}"#,
            ),
            None,
            &[("NoSuchBucketPolicy", "The bucket policy does not exist")],
        ),
        Kind::S3Bucket,
    ),
    kind(
        api(
            Svc::S3,
            "GetBucketAcl",
            true,
            Some(r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","acl":""}"#),
            None,
            NONE,
        ),
        Kind::S3Bucket,
    ),
    kind(
        api(
            Svc::S3,
            "GetBucketVersioning",
            true,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","versioning":""}"#,
            ),
            None,
            NONE,
        ),
        Kind::S3Bucket,
    ),
    kind(
        api(
            Svc::S3,
            "GetBucketEncryption",
            true,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","encryption":""}"#,
            ),
            None,
            &[(
                "ServerSideEncryptionConfigurationNotFoundError",
                "The server side encryption configuration was not found",
            )],
        ),
        Kind::S3Bucket,
    ),
    kind(
        api(
            Svc::S3,
            "PutBucketVersioning",
            false,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","versioning":"","VersioningConfiguration":{"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Status":"Enabled"}}"#,
            ),
            None,
            NONE,
        ),
        Kind::S3Bucket,
    ),
    kind(
        api(
            Svc::S3,
            "ListObjects",
            true,
            Some(
                r#"{"list-type":"2","bucketName":"$BUCKET","encoding-type":"url","prefix":"$PREFIX","delimiter":"/","Host":"$BUCKET.s3.$REGION.amazonaws.com"}"#,
            ),
            None,
            NONE,
        ),
        Kind::S3Bucket,
    ),
    kind(
        api(
            Svc::S3,
            "GetObject",
            true,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","key":"$OBJKEY"}"#,
            ),
            None,
            NO_KEY,
        ),
        Kind::S3Object,
    ),
    kind(
        api(
            Svc::S3,
            "PutObject",
            false,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","key":"$OBJKEY"}"#,
            ),
            Some(
                r#"{"x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:$REGION:$ACCT:key/$KMSKEY","x-amz-version-id":"$HEX32"}"#,
            ),
            NONE,
        ),
        Kind::S3Object,
    ),
    kind(
        api(
            Svc::S3,
            "DeleteObject",
            false,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","key":"$OBJKEY"}"#,
            ),
            None,
            NONE,
        ),
        Kind::S3Object,
    ),
    kind(
        api(
            Svc::S3,
            "CopyObject",
            false,
            Some(
                r#"{"bucketName":"$BUCKET","Host":"$BUCKET.s3.$REGION.amazonaws.com","key":"$OBJKEY","x-amz-copy-source":"$BUCKET/$OBJKEY2"}"#,
            ),
            Some(r#"{"x-amz-server-side-encryption":"AES256","x-amz-version-id":"$HEX32"}"#),
            NO_KEY,
        ),
        Kind::S3Object,
    ),
    // Secrets Manager
    api(
        Svc::Secrets,
        "GetSecretValue",
        true,
        Some(r#"{"secretId":"$SECRET"}"#),
        None,
        NO_SECRET,
    ),
    api(
        Svc::Secrets,
        "DescribeSecret",
        true,
        Some(r#"{"secretId":"$SECRET"}"#),
        None,
        NO_SECRET,
    ),
    api(
        Svc::Secrets,
        "ListSecrets",
        true,
        Some(r#"{"includePlannedDeletion":false,"maxResults":100}"#),
        None,
        NONE,
    ),
    api(
        Svc::Secrets,
        "PutSecretValue",
        false,
        Some(r#"{"secretId":"$SECRET","clientRequestToken":"$UUID2"}"#),
        Some(
            r#"{"arn":"arn:aws:secretsmanager:$REGION:$ACCT:secret:$SECRET-$RAND6","name":"$SECRET","versionId":"$UUID2","versionStages":["AWSCURRENT"]}"#,
        ),
        NO_SECRET,
    ),
    api(
        Svc::Secrets,
        "CreateSecret",
        false,
        Some(
            r#"{"name":"$SECRET","clientRequestToken":"$UUID2","description":"managed by terraform","forceOverwriteReplicaSecret":false}"#,
        ),
        Some(
            r#"{"aRN":"arn:aws:secretsmanager:$REGION:$ACCT:secret:$SECRET-$RAND6","name":"$SECRET","versionId":"$UUID2"}"#,
        ),
        &[(
            "ResourceExistsException",
            "The operation failed because the secret $SECRET already exists.",
        )],
    ),
    // KMS
    kind(
        api(
            Svc::Kms,
            "Decrypt",
            true,
            Some(
                r#"{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"aws:s3:arn":"arn:aws:s3:::$BUCKET/$OBJKEY"}}"#,
            ),
            None,
            &[(
                "IncorrectKeyException",
                "The key ID in the request does not identify a CMK that can perform this operation.",
            )],
        ),
        Kind::Kms,
    ),
    kind(
        api(
            Svc::Kms,
            "GenerateDataKey",
            true,
            Some(
                r#"{"keyId":"arn:aws:kms:$REGION:$ACCT:key/$KMSKEY","keySpec":"AES_256","encryptionContext":{"aws:s3:arn":"arn:aws:s3:::$BUCKET"}}"#,
            ),
            None,
            NONE,
        ),
        Kind::Kms,
    ),
    kind(
        api(
            Svc::Kms,
            "DescribeKey",
            true,
            Some(r#"{"keyId":"$KMSKEY"}"#),
            None,
            &[(
                "NotFoundException",
                "Key 'arn:aws:kms:$REGION:$ACCT:key/$KMSKEY' does not exist",
            )],
        ),
        Kind::Kms,
    ),
    // Lambda
    api(Svc::Lambda, "ListFunctions20150331", true, None, None, NONE),
    api(
        Svc::Lambda,
        "GetFunction20150331v2",
        true,
        Some(r#"{"functionName":"$FUNC"}"#),
        None,
        NO_FUNC,
    ),
    api(
        Svc::Lambda,
        "UpdateFunctionCode20150331v2",
        false,
        Some(
            r#"{"functionName":"$FUNC","s3Bucket":"$BUCKET","s3Key":"builds/$FUNC/$HEX8.zip","publish":true,"dryRun":false}"#,
        ),
        Some(
            r#"{"functionName":"$FUNC","functionArn":"arn:aws:lambda:$REGION:$ACCT:function:$FUNC","runtime":"python3.12","role":"arn:aws:iam::$ACCT:role/$ROLE","handler":"app.handler","codeSize":$BYTES,"description":"","timeout":30,"memorySize":512,"lastModified":"$TIME","version":"$N100","tracingConfig":{"mode":"PassThrough"},"revisionId":"$UUID2","state":"Active","lastUpdateStatus":"InProgress","packageType":"Zip","architectures":["x86_64"],"ephemeralStorage":{"size":512}}"#,
        ),
        NO_FUNC,
    ),
    // SSM
    api(
        Svc::Ssm,
        "GetParameter",
        true,
        Some(r#"{"name":"$PARAM","withDecryption":true}"#),
        None,
        NO_PARAM,
    ),
    api(
        Svc::Ssm,
        "GetParameters",
        true,
        Some(r#"{"names":["$PARAM"],"withDecryption":true}"#),
        None,
        NONE,
    ),
    api(
        Svc::Ssm,
        "GetParametersByPath",
        true,
        Some(r#"{"path":"/prod/","recursive":true,"withDecryption":true}"#),
        None,
        NONE,
    ),
    api(
        Svc::Ssm,
        "DescribeInstanceInformation",
        true,
        Some(r#"{"maxResults":50}"#),
        None,
        NONE,
    ),
    api(
        Svc::Ssm,
        "UpdateInstanceInformation",
        false,
        Some(
            r#"{"instanceId":"$INST","agentVersion":"3.3.131.0","agentStatus":"Active","platformType":"Linux","platformName":"Amazon Linux","platformVersion":"2023","iPAddress":"$PRIVIP","computerName":"ip-$PRIVDASH.ec2.internal","agentName":"amazon-ssm-agent","availabilityZone":"$AZ","ssmConnectionChannel":"ssmmessages"}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Ssm,
        "SendCommand",
        false,
        Some(
            r#"{"instanceIds":["$INST"],"documentName":"AWS-RunShellScript","parameters":"HIDDEN_DUE_TO_SECURITY_REASONS","interactive":false}"#,
        ),
        Some(
            r#"{"command":{"commandId":"$UUID2","documentName":"AWS-RunShellScript","documentVersion":"$$DEFAULT","comment":"","expiresAfter":"$EXPIRYIAM","parameters":"HIDDEN_DUE_TO_SECURITY_REASONS","instanceIds":["$INST"],"targets":[],"requestedDateTime":"$TIMEIAM","status":"Pending","statusDetails":"Pending","outputS3Region":"$REGION","outputS3BucketName":"","outputS3KeyPrefix":"","maxConcurrency":"50","maxErrors":"0","targetCount":1,"completedCount":0,"errorCount":0,"deliveryTimedOutCount":0,"serviceRole":"","timeoutSeconds":3600,"triggeredAlarms":[]}}"#,
        ),
        NO_INSTANCE,
    ),
    // CloudWatch Logs
    api(
        Svc::Logs,
        "DescribeLogGroups",
        true,
        Some(r#"{"logGroupNamePrefix":"/aws/lambda/$FUNC"}"#),
        None,
        NONE,
    ),
    api(
        Svc::Logs,
        "CreateLogStream",
        false,
        Some(r#"{"logGroupName":"/aws/lambda/$FUNC","logStreamName":"$DAY/[$$LATEST]$HEX32"}"#),
        None,
        &[(
            "ResourceAlreadyExistsException",
            "The specified log stream already exists",
        )],
    ),
    api(
        Svc::Logs,
        "FilterLogEvents",
        true,
        Some(r#"{"logGroupName":"/aws/lambda/$FUNC","startTime":$EPOCHMS,"interleaved":true}"#),
        None,
        NONE,
    ),
    // DynamoDB
    api(
        Svc::Dynamo,
        "DescribeTable",
        true,
        Some(r#"{"tableName":"$TABLE"}"#),
        None,
        NO_TABLE,
    ),
    api(Svc::Dynamo, "ListTables", true, None, None, NONE),
    api(
        Svc::Dynamo,
        "DescribeContinuousBackups",
        true,
        Some(r#"{"tableName":"$TABLE"}"#),
        None,
        NO_TABLE,
    ),
    // CloudFormation
    api(
        Svc::Cfn,
        "DescribeStacks",
        true,
        Some(r#"{"stackName":"$STACK"}"#),
        None,
        NO_STACK,
    ),
    api(
        Svc::Cfn,
        "ListStacks",
        true,
        Some(
            r#"{"stackStatusFilter":["CREATE_COMPLETE","UPDATE_COMPLETE","UPDATE_ROLLBACK_COMPLETE"]}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Cfn,
        "DescribeStackEvents",
        true,
        Some(r#"{"stackName":"$STACK"}"#),
        None,
        NO_STACK,
    ),
    // ECR
    api(
        Svc::Ecr,
        "GetAuthorizationToken",
        true,
        Some(r#"{"registryIds":["$ACCT"]}"#),
        None,
        NONE,
    ),
    api(Svc::Ecr, "DescribeRepositories", true, None, None, NONE),
    api(
        Svc::Ecr,
        "BatchGetImage",
        true,
        Some(
            r#"{"repositoryName":"$FUNC","imageIds":[{"imageTag":"latest"}],"acceptedMediaTypes":["application/vnd.docker.distribution.manifest.v2+json","application/vnd.oci.image.manifest.v1+json"]}"#,
        ),
        None,
        &[(
            "RepositoryNotFoundException",
            "The repository with name '$FUNC' does not exist in the registry with id '$ACCT'",
        )],
    ),
    // CloudTrail
    api(
        Svc::Trail,
        "LookupEvents",
        true,
        Some(
            r#"{"lookupAttributes":[{"attributeKey":"EventName","attributeValue":"ConsoleLogin"}],"maxResults":50}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Trail,
        "DescribeTrails",
        true,
        Some(r#"{"includeShadowTrails":true}"#),
        None,
        NONE,
    ),
    api(
        Svc::Trail,
        "GetTrailStatus",
        true,
        Some(r#"{"name":"arn:aws:cloudtrail:us-east-1:$ACCT:trail/org-trail"}"#),
        None,
        NONE,
    ),
    // RDS
    api(
        Svc::Rds,
        "DescribeDBInstances",
        true,
        Some(r#"{"dBInstanceIdentifier":"$DB"}"#),
        None,
        &[("DBInstanceNotFound", "DBInstance $DB not found.")],
    ),
    api(
        Svc::Rds,
        "DescribeDBSnapshots",
        true,
        Some(
            r#"{"dBInstanceIdentifier":"$DB","snapshotType":"automated","includeShared":false,"includePublic":false}"#,
        ),
        None,
        NONE,
    ),
    // CloudWatch
    api(
        Svc::Monitoring,
        "GetMetricData",
        true,
        Some(
            r#"{"metricDataQueries":[{"id":"m0","metricStat":{"metric":{"namespace":"AWS/EC2","metricName":"CPUUtilization","dimensions":[{"name":"InstanceId","value":"$INST"}]},"period":300,"stat":"Average"},"returnData":true}],"startTime":"$TIMEAGO","endTime":"$TIME"}"#,
        ),
        None,
        NONE,
    ),
    api(
        Svc::Monitoring,
        "DescribeAlarms",
        true,
        Some(r#"{"maxRecords":100}"#),
        None,
        NONE,
    ),
    api(
        Svc::Monitoring,
        "ListMetrics",
        true,
        Some(r#"{"namespace":"AWS/EC2"}"#),
        None,
        NONE,
    ),
    // Route 53
    api(Svc::Route53, "ListHostedZones", true, None, None, NONE),
    api(
        Svc::Route53,
        "ListResourceRecordSets",
        true,
        Some(r#"{"hostedZoneId":"Z0$KEY17"}"#),
        None,
        NONE,
    ),
    // Console sign-in
    kind(
        api(
            Svc::Signin,
            "ConsoleLogin",
            false,
            None,
            Some(r#"{"ConsoleLogin":"Success"}"#),
            NONE,
        ),
        Kind::ConsoleLogin,
    ),
    // Planted only (no profile draws them): the traces of attack techniques (scenario
    // `attack-techniques`), as CloudTrail records them.
    api(
        Svc::Trail,
        "StopLogging",
        false,
        Some(r#"{"name":"arn:aws:cloudtrail:$REGION:$ACCT:trail/management-events"}"#),
        None,
        NONE,
    ),
    api(
        Svc::Trail,
        "DeleteTrail",
        false,
        Some(r#"{"name":"arn:aws:cloudtrail:$REGION:$ACCT:trail/management-events"}"#),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "ModifySnapshotAttribute",
        false,
        Some(
            r#"{"snapshotId":"$SNAP","createVolumePermission":{"add":{"items":[{"userId":"$ACCT"}]}},"attributeType":"CREATE_VOLUME_PERMISSION"}"#,
        ),
        Some(r#"{"requestId":"$UUID2","_return":true}"#),
        NONE,
    ),
    api(
        Svc::Rds,
        "ModifyDBSnapshotAttribute",
        false,
        Some(
            r#"{"dBSnapshotIdentifier":"$DB-snapshot","attributeName":"restore","valuesToAdd":["$ACCT"]}"#,
        ),
        Some(
            r#"{"dBSnapshotIdentifier":"$DB-snapshot","dBSnapshotAttributes":[{"attributeName":"restore","attributeValues":["$ACCT"]}]}"#,
        ),
        NONE,
    ),
    api(
        Svc::Iam,
        "CreateLoginProfile",
        false,
        Some(r#"{"userName":"$UNAME","passwordResetRequired":false}"#),
        Some(
            r#"{"loginProfile":{"userName":"$UNAME","createDate":"$TIMEIAM","passwordResetRequired":false}}"#,
        ),
        NO_USER,
    ),
    api(
        Svc::Iam,
        "UpdateLoginProfile",
        false,
        Some(r#"{"userName":"$UNAME","passwordResetRequired":false}"#),
        None,
        NO_USER,
    ),
    api(
        Svc::Iam,
        "UpdateAssumeRolePolicy",
        false,
        Some(
            r#"{"roleName":"$ROLE","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::$ACCT:root\"},\"Action\":\"sts:AssumeRole\"}]}"}"#,
        ),
        None,
        NO_ROLE,
    ),
    api(
        Svc::Secrets,
        "BatchGetSecretValue",
        true,
        Some(r#"{"filters":[{"key":"name","values":["prod"]}]}"#),
        None,
        NONE,
    ),
    api(
        Svc::Ec2,
        "GetPasswordData",
        true,
        Some(r#"{"instanceId":"$INST"}"#),
        None,
        NO_INSTANCE,
    ),
    api(
        Svc::Ec2,
        "ModifyInstanceAttribute",
        false,
        Some(r#"{"instanceId":"$INST","userData":"<sensitiveDataRemoved>"}"#),
        Some(r#"{"requestId":"$UUID2","_return":true}"#),
        NO_INSTANCE,
    ),
    api(
        Svc::Ec2,
        "DeleteFlowLogs",
        false,
        Some(r#"{"DeleteFlowLogsRequest":{"FlowLogId":{"tag":1,"content":"fl-0$HEX16"}}}"#),
        Some(
            r#"{"DeleteFlowLogsResponse":{"xmlns":"http://ec2.amazonaws.com/doc/2016-11-15/","requestId":"$UUID2","unsuccessful":""}}"#,
        ),
        NONE,
    ),
    api(
        Svc::Lambda,
        "AddPermission20150331v2",
        false,
        Some(
            r#"{"functionName":"$FUNC","statementId":"public-invoke","action":"lambda:InvokeFunction","principal":"*"}"#,
        ),
        Some(
            r#"{"statement":"{\"Sid\":\"public-invoke\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"lambda:InvokeFunction\",\"Resource\":\"arn:aws:lambda:$REGION:$ACCT:function:$FUNC\"}"}"#,
        ),
        NO_FUNC,
    ),
    api(
        Svc::Sts,
        "GetFederationToken",
        false,
        Some(r#"{"name":"$CALLER","durationSeconds":129600}"#),
        Some(concat!(
            r#"{"credentials":{"accessKeyId":"$ASIANEW","sessionToken":"$TOKEN","expiration":"$EXPIRYIAM"}"#,
            r#","federatedUser":{"federatedUserId":"$ACCT:$CALLER","arn":"arn:aws:sts::$ACCT:federated-user/$CALLER"},"packedPolicySize":6}"#
        )),
        NONE,
    ),
];

/// Index of an operation by event name.
pub(crate) fn api_index(name: &str) -> u16 {
    APIS.iter()
        .position(|a| a.name == name)
        .unwrap_or_else(|| panic!("unknown API {name}")) as u16
}

/// What a kind of caller does: operation names with relative weights.
pub(crate) type Profile = &'static [(&'static str, u32)];

pub(crate) const DEVELOPER: Profile = &[
    ("GetCallerIdentity", 6),
    ("ListBuckets", 3),
    ("ListObjects", 10),
    ("GetObject", 8),
    ("PutObject", 3),
    ("DescribeInstances", 8),
    ("DescribeSecurityGroups", 4),
    ("DescribeVpcs", 2),
    ("DescribeSubnets", 2),
    ("DescribeLogGroups", 4),
    ("FilterLogEvents", 6),
    ("ListFunctions20150331", 3),
    ("GetFunction20150331v2", 3),
    ("DescribeStacks", 5),
    ("GetParameter", 4),
    ("DescribeSecret", 2),
    ("GetSecretValue", 2),
    ("GetUser", 1),
    ("ListRoles", 1),
    ("GetAuthorizationToken", 3),
    ("DescribeTable", 2),
    ("GetMetricData", 2),
];

pub(crate) const TERRAFORM: Profile = &[
    ("GetCallerIdentity", 5),
    ("DescribeInstances", 5),
    ("DescribeSecurityGroups", 6),
    ("DescribeVpcs", 5),
    ("DescribeSubnets", 5),
    ("DescribeImages", 3),
    ("DescribeNetworkInterfaces", 2),
    ("DescribeTags", 3),
    ("CreateTags", 1),
    ("GetRole", 6),
    ("ListAttachedRolePolicies", 4),
    ("ListRolePolicies", 4),
    ("GetPolicy", 3),
    ("GetPolicyVersion", 3),
    ("TagRole", 1),
    ("GetBucketVersioning", 3),
    ("GetBucketPolicy", 3),
    ("GetBucketAcl", 3),
    ("GetBucketEncryption", 2),
    ("PutBucketVersioning", 1),
    ("GetFunction20150331v2", 3),
    ("DescribeTable", 3),
    ("DescribeContinuousBackups", 2),
    ("DescribeKey", 3),
    ("DescribeSecret", 2),
    ("DescribeLogGroups", 2),
    ("ListHostedZones", 1),
    ("ListResourceRecordSets", 1),
    ("DescribeDBInstances", 2),
    ("AuthorizeSecurityGroupIngress", 1),
    ("RunInstances", 1),
    ("UpdateFunctionCode20150331v2", 1),
];

pub(crate) const APPLICATION: Profile = &[
    ("GetObject", 20),
    ("PutObject", 10),
    ("ListObjects", 6),
    ("DescribeTable", 3),
    ("GetSecretValue", 4),
    ("Decrypt", 6),
    ("GenerateDataKey", 3),
    ("GetParameters", 5),
    ("GetCallerIdentity", 1),
    ("CopyObject", 2),
    ("DeleteObject", 1),
];

pub(crate) const BACKUP: Profile = &[
    ("DescribeVolumes", 8),
    ("DescribeSnapshots", 6),
    ("CreateSnapshot", 3),
    ("CreateTags", 3),
    ("DescribeInstances", 4),
    ("DescribeDBInstances", 3),
    ("DescribeDBSnapshots", 3),
    ("PutObject", 4),
    ("ListObjects", 2),
    ("DeleteObject", 1),
];

pub(crate) const INVENTORY: Profile = &[
    ("DescribeRegions", 2),
    ("DescribeInstances", 10),
    ("DescribeVolumes", 6),
    ("DescribeSecurityGroups", 6),
    ("DescribeVpcs", 4),
    ("DescribeSnapshots", 2),
    ("ListFunctions20150331", 3),
    ("DescribeDBInstances", 2),
    ("ListTables", 2),
    ("ListBuckets", 1),
    ("ListUsers", 1),
    ("ListAccessKeys", 2),
    ("GetBucketAcl", 2),
    ("GetBucketPolicy", 2),
];

pub(crate) const IAM_ADMIN: Profile = &[
    ("ListUsers", 6),
    ("GetUser", 6),
    ("ListAccessKeys", 5),
    ("ListAttachedUserPolicies", 4),
    ("ListGroupsForUser", 3),
    ("ListMFADevices", 3),
    ("ListRoles", 4),
    ("GetRole", 3),
    ("ListPolicies", 2),
    ("GetAccountSummary", 1),
    ("GetCallerIdentity", 2),
    ("CreateAccessKey", 1),
    ("AttachUserPolicy", 1),
    ("AddUserToGroup", 1),
    ("LookupEvents", 2),
    ("DescribeTrails", 1),
    ("GetTrailStatus", 1),
];

pub(crate) const MONITORING: Profile = &[
    ("GetMetricData", 12),
    ("ListMetrics", 4),
    ("DescribeAlarms", 3),
    ("DescribeInstances", 4),
    ("DescribeTags", 3),
    ("DescribeTable", 2),
    ("ListFunctions20150331", 2),
    ("DescribeDBInstances", 2),
];

pub(crate) const INSTANCE_ROLE: Profile = &[
    ("GetObject", 14),
    ("PutObject", 6),
    ("UpdateInstanceInformation", 6),
    ("GetParameters", 6),
    ("GetSecretValue", 3),
    ("Decrypt", 6),
    ("DescribeTags", 2),
    ("DescribeTable", 2),
    ("GetAuthorizationToken", 2),
    ("BatchGetImage", 2),
    ("GetCallerIdentity", 1),
    ("CreateLogStream", 2),
];

pub(crate) const LAMBDA_ROLE: Profile = &[
    ("GetObject", 12),
    ("PutObject", 8),
    ("DescribeTable", 4),
    ("Decrypt", 6),
    ("GenerateDataKey", 3),
    ("GetSecretValue", 4),
    ("GetParameter", 4),
    ("CreateLogStream", 3),
];

pub(crate) const CONSOLE: Profile = &[
    ("DescribeInstances", 6),
    ("DescribeInstanceStatus", 3),
    ("DescribeSecurityGroups", 3),
    ("DescribeVpcs", 2),
    ("ListBuckets", 3),
    ("GetBucketLocation", 3),
    ("GetBucketPolicy", 2),
    ("GetBucketAcl", 2),
    ("ListObjects", 4),
    ("LookupEvents", 3),
    ("ListUsers", 2),
    ("ListRoles", 2),
    ("GetRole", 2),
    ("DescribeAlarms", 3),
    ("GetMetricData", 5),
    ("ListFunctions20150331", 2),
    ("DescribeLogGroups", 3),
    ("FilterLogEvents", 3),
    ("DescribeDBInstances", 2),
    ("DescribeStacks", 3),
    ("ListStacks", 2),
    ("ListSecrets", 1),
    ("DescribeStackEvents", 2),
];

pub(crate) const CONSOLE_USER: Profile = &[
    ("ConsoleLogin", 2),
    ("DescribeInstances", 6),
    ("DescribeSecurityGroups", 3),
    ("ListBuckets", 3),
    ("GetBucketLocation", 3),
    ("ListObjects", 4),
    ("LookupEvents", 3),
    ("ListUsers", 2),
    ("GetUser", 2),
    ("ListAccessKeys", 2),
    ("DescribeAlarms", 3),
    ("GetMetricData", 5),
    ("DescribeLogGroups", 3),
    ("FilterLogEvents", 3),
    ("DescribeStacks", 3),
];

pub(crate) const CONFIG_RECORDER: Profile = &[
    ("DescribeInstances", 4),
    ("DescribeSecurityGroups", 4),
    ("DescribeVpcs", 2),
    ("DescribeSubnets", 2),
    ("DescribeVolumes", 2),
    ("DescribeNetworkInterfaces", 2),
    ("GetRole", 3),
    ("ListRolePolicies", 2),
    ("ListAttachedRolePolicies", 2),
    ("GetPolicy", 2),
    ("GetBucketAcl", 2),
    ("GetBucketPolicy", 2),
    ("GetBucketVersioning", 2),
    ("GetBucketEncryption", 2),
    ("GetFunction20150331v2", 2),
    ("DescribeDBInstances", 1),
    ("DescribeTable", 1),
];

pub(crate) const ASSUME_ROLE: Profile = &[("AssumeRole", 1)];
pub(crate) const KMS_INTERNAL: Profile = &[("Decrypt", 3), ("GenerateDataKey", 2)];

/// Command-line user agents. None carries a per-command suffix, so one key keeps one agent.
pub(crate) const CLI_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-1016-aws md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off",
    "aws-cli/2.15.17 md/awscrt#0.19.18 ua/2.0 os/macos#23.3.0 md/arch#arm64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off",
    "aws-cli/2.13.25 Python/3.11.5 Windows/10 exe/AMD64 prompt/off",
    "aws-cli/1.32.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.15.0-1055-aws md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy botocore/1.34.69",
    "AWSPowerShell.Common/4.1.532.0 .NET_Core/8.0.2 OS/Microsoft_Windows_10.0.22631 PowerShellCore/7.4 (Windows 10 Enterprise)",
];

/// A newer CLI than any in [`CLI_AGENTS`], for the "new user agent, known IP" decoy.
pub(crate) const UPGRADED_CLI_AGENT: &str = "aws-cli/2.17.4 md/awscrt#0.20.11 ua/2.0 os/linux#6.8.0-1009-aws md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off";

pub(crate) const TERRAFORM_AGENTS: &[&str] = &[
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
    "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.49.13 (go1.21.5; linux; amd64)",
];

pub(crate) const SDK_AGENTS: &[&str] = &[
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "Boto3/1.33.13 md/Botocore#1.33.13 ua/2.0 os/linux#6.2.0-1018-azure md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.33.13",
    "aws-sdk-java/1.12.681 Linux/5.10.213-201.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS java/17.0.10 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
    "aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.151.0",
    "aws-sdk-js/3.540.0 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 lang/js md/nodejs#20.11.1 api/s3#3.540.0",
    "aws-sdk-go/1.50.38 (go1.21.8; linux; amd64)",
];

pub(crate) const BROWSER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
];

pub(crate) const LAMBDA_AGENT: &str = "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.209-220.811.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.42";

/// Attacker user agents for the scenarios.
pub(crate) const SCANNER_AGENT: &str =
    "Boto3/1.26.137 Python/3.11.2 Linux/6.1.0-kali9-amd64 Botocore/1.29.137";
pub(crate) const REQUESTS_AGENT: &str = "python-requests/2.31.0";

pub(crate) const FIRST_NAMES: &[&str] = &[
    "alice", "bruno", "carla", "dana", "emeka", "fatima", "george", "hana", "ivan", "julia",
    "kenji", "lena", "mateo", "nina", "omar", "priya", "quentin", "rosa", "sven", "tariq", "uma",
    "victor", "wei", "yusuf", "zoe", "aiko", "bernd", "chloe", "diego", "elif",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "nguyen", "schmidt", "okafor", "tanaka", "dubois", "silva", "patel", "kowalski", "johnson",
    "garcia", "mueller", "rossi", "kim", "smith", "haddad", "larsen", "moreau", "sato", "costa",
    "sharma", "brown", "fischer", "martin", "yamamoto", "oliveira",
];

pub(crate) const SERVICE_USERS: &[&str] = &[
    "svc-backup",
    "svc-inventory",
    "terraform-ci",
    "etl-runner",
    "reporting-bot",
    "datadog-integration",
    "jenkins-legacy",
    "s3-sync",
    "monitoring-export",
    "cost-report-bot",
    "airflow-worker",
    "github-legacy-deploy",
];

pub(crate) const COMPANIES: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "soylent",
];

pub(crate) const BUCKET_PURPOSES: &[&str] = &[
    "logs",
    "artifacts",
    "data-lake",
    "backups",
    "static-assets",
    "terraform-state",
    "exports",
    "ml-datasets",
];

pub(crate) const OBJECT_PREFIXES: &[&str] = &[
    "data/2026/01/",
    "exports/daily/",
    "artifacts/builds/",
    "backups/postgres/",
    "reports/monthly/",
    "uploads/users/",
    "raw/events/",
];

pub(crate) const OBJECT_SUFFIXES: &[&str] = &[
    ".json.gz", ".parquet", ".csv", ".zip", ".tar.gz", ".png", ".avro",
];

pub(crate) const ROLE_NAMES: &[&str] = &[
    "app-server-role",
    "orders-processor-role",
    "github-actions-deploy",
    "AWSServiceRoleForConfig",
    "data-pipeline-role",
    "eks-node-role",
    "read-only-auditor",
    "break-glass-admin",
];

pub(crate) const SECRET_NAMES: &[&str] = &[
    "prod/db/postgres-main",
    "prod/api/stripe-key",
    "prod/api/sendgrid",
    "staging/db/postgres",
    "prod/oauth/github-app",
    "shared/datadog-api-key",
];

pub(crate) const FUNCTION_NAMES: &[&str] = &[
    "orders-processor",
    "image-resizer",
    "nightly-report",
    "auth-token-refresh",
    "s3-event-router",
    "billing-sync",
];

pub(crate) const TABLE_NAMES: &[&str] = &[
    "orders",
    "sessions",
    "customers",
    "feature-flags",
    "audit-log",
];

pub(crate) const STACK_NAMES: &[&str] = &[
    "network-prod",
    "app-prod",
    "data-platform",
    "monitoring",
    "bastion",
];

pub(crate) const PARAM_NAMES: &[&str] = &[
    "/prod/app/db_host",
    "/prod/app/redis_url",
    "/prod/app/feature_flags",
    "/shared/ami/latest",
    "/prod/worker/concurrency",
];

pub(crate) const POLICY_NAMES: &[&str] = &[
    "s3-read-artifacts",
    "ci-deploy-policy",
    "secrets-read-prod",
    "ec2-ops",
    "billing-read",
];

pub(crate) const GROUP_NAMES: &[&str] = &["developers", "admins", "read-only", "data-engineers"];

pub(crate) const DB_NAMES: &[&str] = &[
    "prod-postgres-main",
    "prod-mysql-legacy",
    "analytics-replica",
];

pub(crate) const HOST_NAMES: &[&str] = &[
    "web-prod-01",
    "web-prod-02",
    "worker-prod-03",
    "bastion-01",
    "batch-runner",
    "api-prod-04",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_name_known_operations() {
        for p in [
            DEVELOPER,
            TERRAFORM,
            APPLICATION,
            BACKUP,
            INVENTORY,
            IAM_ADMIN,
            MONITORING,
            INSTANCE_ROLE,
            LAMBDA_ROLE,
            CONSOLE,
            CONSOLE_USER,
            CONFIG_RECORDER,
            ASSUME_ROLE,
            KMS_INTERNAL,
        ] {
            for (name, w) in p {
                api_index(name);
                assert!(*w > 0);
            }
        }
        let names: std::collections::HashSet<_> = APIS.iter().map(|a| a.name).collect();
        assert_eq!(names.len(), APIS.len(), "duplicate API names");
    }

    #[test]
    fn denied_codes_are_unauthorized() {
        for a in APIS {
            assert!(UNAUTHORIZED_CODES.contains(&a.svc.denied_code()));
            for (code, _) in a.errs {
                assert!(!UNAUTHORIZED_CODES.contains(code), "{code}");
            }
            assert!(!UNAUTHORIZED_CODES.contains(&a.svc.throttle().0));
        }
    }
}
