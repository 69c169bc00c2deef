"""Run the AWS SAM transform on a template offline and print the result.

Usage: python3 samtransform.py TEMPLATE REGION

Prints one JSON object: {"template": <the CloudFormation template SAM
produces>, "taggable": {<resource type>: <whether it takes Tags>}}. The
template is read with cfn-lint's decoder (short-form intrinsics such as !Ref
become their long form) and translated with the same samtranslator that
cfn-lint uses; the type list comes from cfn-lint's resource schemas for the
region. Local CodeUri values become an S3 URI, as `sam package` would make
them. Nothing here calls AWS.
"""

import json
import os
import sys

from cfnlint.decode import decode
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from samtranslator.parser.parser import Parser
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.translator import Translator


def main() -> int:
    path, region = sys.argv[1], sys.argv[2]
    template, problems = decode(path)
    if problems:
        for p in problems:
            print(f"{path}: {p}", file=sys.stderr)
        return 1
    for res in template.get("Resources", {}).values():
        props = res.get("Properties")
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props, dict):
            props["CodeUri"] = "s3://sigmawatch-artifacts/code.zip"
    # SAM builds ARNs for the region it believes it runs in.
    os.environ["AWS_DEFAULT_REGION"] = region
    # No managed policy may be used by name: the map stays empty, so a SAM
    # policy template or a managed policy name fails the transform.
    try:
        out = Translator(managed_policy_map={}, sam_parser=Parser()).translate(
            sam_template=template, parameter_values={}, passthrough_metadata=True
        )
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{path}: SAM transform: {cause.message}", file=sys.stderr)
        return 1
    taggable = {}
    for res in out.get("Resources", {}).values():
        typ = res.get("Type")
        if typ and typ not in taggable:
            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, typ)
            taggable[typ] = "Tags" in schema.schema.get("properties", {})
    json.dump({"template": out, "taggable": taggable}, sys.stdout, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
