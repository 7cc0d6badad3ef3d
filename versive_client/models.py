"""The API's data models, generated from the spec: request bodies, responses and errors.

Every model is an attrs class with ``from_dict``/``to_dict``; fields the spec does not
declare are kept in ``additional_properties``, so nothing the API sends is lost::

    from versive_client.models import Interview

    interview = Interview.from_dict(response.json())
    interview.created_at      # a timezone-aware datetime.datetime
    interview["new_field"]    # a field the spec does not (yet) declare
"""

from ._generated.models import *  # noqa: F403 - re-export whatever the spec defines
from ._generated.models import __all__ as __all__  # noqa: PLC0414 - explicit re-export for type checkers
