import time

from django.core.management.base import BaseCommand, CommandError

from catalog.seed.writes import DEFAULT_SEED, seed_catalog


class Command(BaseCommand):
    help = "Seed a deterministic demo catalog; reruns add only the products still missing."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, required=True, help="Products to have.")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="Same seed, same catalog."
        )
        parser.add_argument("--batch", type=int, default=5000, help="Products per transaction.")

    def handle(self, *args, products: int, seed: int, batch: int, **options):
        if products < 0:
            raise CommandError(f"--products must be 0 or more, not {products}.")
        if batch < 1:
            raise CommandError(f"--batch must be 1 or more, not {batch}.")
        started = time.perf_counter()
        result = seed_catalog(products=products, seed=seed, batch_size=batch)
        self.stdout.write(
            f"Seeded {result.products} products ({result.created} new) in "
            f"{result.departments} categories / {result.subcategories} subcategories "
            f"in {time.perf_counter() - started:.1f} s"
        )
