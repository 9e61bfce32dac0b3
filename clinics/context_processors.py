from django.http import HttpRequest

from .navigation import ACCOUNT_MENU_BLOCKS, Menu, menus_for


def navigation(request: HttpRequest) -> dict:
    """The menus for the member's role, from what the apps registered (see clinics/navigation.py)."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"navigation": [], "account_menu": []}
    menus = menus_for(role=membership.role, path=request.path)
    return {
        "navigation": menus[Menu.MAIN],
        # Blocks the role has no entry in are left out, with their divider.
        "account_menu": [menus[block] for block in ACCOUNT_MENU_BLOCKS if menus[block]],
    }
