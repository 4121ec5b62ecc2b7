"""What a user may do on the secured broker, asked of the broker itself.

Writing is tried with the producer departments use. Reading is a Fetch request sent
straight to the partition's leader: a consumer never fetches a topic whose metadata it
may not see, so only a Fetch shows that the broker refuses the read itself.
"""

from dataclasses import dataclass

from aiokafka import AIOKafkaClient
from aiokafka.errors import TopicAuthorizationFailedError
from aiokafka.protocol.fetch import FetchRequest

from pelastus_hub.clients import KafkaClients
from pelastus_hub.settings import HubSettings

NO_ERROR = 0
TOPIC_AUTHORIZATION_FAILED = 29


@dataclass(frozen=True)
class Case:
    user: str
    operation: str  # write or read
    topic: str
    allowed: bool  # expected
    observed: bool


async def writes(settings: HubSettings, topics: list[str]) -> dict[str, bool]:
    """Whether the broker took a record to each topic."""
    producer = KafkaClients.from_settings(settings).producer(acks="all", request_timeout_ms=10_000)
    await producer.start()
    taken = {}
    try:
        for topic in topics:
            try:
                await producer.send_and_wait(topic, b"access check", partition=0)
                taken[topic] = True
            except TopicAuthorizationFailedError:
                taken[topic] = False
    finally:
        await producer.stop()
    return taken


async def reads(settings: HubSettings, topics: list[str]) -> dict[str, bool]:
    """Whether the broker answered a Fetch of partition 0 of each topic without refusing it."""
    client = AIOKafkaClient(**settings.kafka_options())
    await client.bootstrap()
    try:
        (leader,) = [broker.nodeId for broker in client.cluster.brokers()]
        answered = {}
        for topic in topics:
            request = FetchRequest(0, 1, 1 << 20, 0, [(topic, [(0, 0, 1 << 20)])])
            response = await client.send(leader, request)
            ((name, ((_, error, *_),)),) = response.topics
            assert name == topic and error in (NO_ERROR, TOPIC_AUTHORIZATION_FAILED), error
            answered[topic] = error == NO_ERROR
    finally:
        await client.close()
    return answered
