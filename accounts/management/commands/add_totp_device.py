"""Enrols a TOTP authenticator for a staff member, for the admin's two-factor login.

With ADMIN_REQUIRE_2FA on nobody can sign in to the admin before having a device, so the
first one comes from the shell: this prints the otpauth:// URI (and the key, for apps
that take it typed in) once, to be added to the staff member's authenticator app; `--qr`
also draws it as a QR code in the terminal, to scan with the phone.
"""

from base64 import b32encode
from io import StringIO

import segno
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User, normalize_email


class Command(BaseCommand):
    help = "Create a TOTP device for a staff user and print its otpauth:// URI."

    def add_arguments(self, parser):
        parser.add_argument("email", help="the staff user's e-mail")
        parser.add_argument(
            "--name",
            default="authenticator",
            help="device name shown at login (default: %(default)s)",
        )
        parser.add_argument("--qr", action="store_true", help="also print the URI as a QR code")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="delete the user's other TOTP devices (a lost or replaced phone)",
        )

    def handle(self, *args, email: str, name: str, replace: bool, qr: bool, **options):
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is None:
            raise CommandError(f"No user with e-mail {email!r}.")
        if not user.is_staff:
            raise CommandError(f"{user.email} is not staff; the admin would refuse them anyway.")
        with transaction.atomic():
            if replace:
                TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        self.stdout.write(device.config_url)
        self.stdout.write(f"key: {b32encode(device.bin_key).decode()}")
        if qr:
            # Drawn into a buffer: the command's stdout wrapper ends every write with a newline.
            drawing = StringIO()
            segno.make(device.config_url).terminal(out=drawing, compact=True)
            self.stdout.write(drawing.getvalue(), ending="")
