# Put on PYTHONPATH by the real-client tests for the AWS CLI and s3cmd subprocesses: see
# localhost_resolver.py. Python imports `sitecustomize` at start-up when it is on sys.path.
import localhost_resolver

localhost_resolver.install()
