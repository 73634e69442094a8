namespace Blockbuster.Training; public static class Placeholder {}
